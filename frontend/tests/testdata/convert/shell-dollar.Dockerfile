# escape=`
# Reduced from docker-library/python's Windows Dockerfile: SHELL expands no variables, so
# PowerShell's $ErrorActionPreference is literal in the image's shell.
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue';"]
ENV PYTHON_VERSION 3.14.0
RUN Write-Host ('Installing {0} ...' -f $env:PYTHON_VERSION); `
	$url = 'https://www.python.org/ftp/python/{0}/python-{0}-amd64.exe' -f $env:PYTHON_VERSION; `
	Write-Host $url
CMD ["python"]
