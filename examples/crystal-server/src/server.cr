require "http/server"

port = (ENV["PORT"]? || "3000").to_i

server = HTTP::Server.new do |context|
  case context.request.path
  when "/health"
    context.response.content_type = "text/plain"
    context.response.print "ok\n"
  else
    context.response.content_type = "text/plain"
    context.response.print "Hello from Crystal #{Crystal::VERSION}\n"
  end
end

address = server.bind_tcp "0.0.0.0", port
puts "Listening on http://#{address}"
server.listen
