//! A tiny HTTP/1.1 server using only the standard library.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn respond(mut stream: TcpStream) -> std::io::Result<()> {
    let mut request_line = String::new();
    BufReader::new(&stream).read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let body = match path {
        "/health" => "ok\n".to_string(),
        _ => format!("Hello from Rust (path {path})\n"),
    };
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn main() -> std::io::Result<()> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on http://{addr}");
    for stream in listener.incoming() {
        if let Err(e) = stream.and_then(respond) {
            eprintln!("request failed: {e}");
        }
    }
    Ok(())
}
