//! The command line of `pollchat-client`. It shares the dialect table and
//! the value parsers with the server, never the server's configuration.

use crate::cli::{parse_port, CliError};
use crate::dialect::{channels, Protocol};
use lexopt::prelude::*;
use std::ffi::OsString;

pub const CLIENT_HELP: &str = "\
usage: pollchat-client [mesg] <host> <port>
       pollchat-client hello --address <host> --port <port>
       pollchat-client channels <name> <host> <port>
       pollchat-client sendto <host> <port>
       pollchat-client miniserv <host> <port>

An interactive chat client. Each line typed is sent to the server; each line
the server sends is printed. Piped in (mesg, hello), requests go out one per
write, each after the server's reply or 0.5 s. When standard input ends the
client stops sending and prints the rest of what the server says, until the
server closes or has been quiet for 3 s.

options:
  --address <host>   server host (or give it as <host>)
  --port <port>      server port (or give it as <port>)
  -h, --help         print this help";

/// What `pollchat-client` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientArgs {
    pub protocol: &'static Protocol,
    /// The user name given on the command line (`channels` takes one).
    pub name: Option<String>,
    pub host: String,
    pub port: u16,
}

pub fn parse_client_args<I>(args: I) -> Result<ClientArgs, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args);
    let mut protocol = None;
    let mut name = None;
    let mut host = None;
    let mut port = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(CliError::Help),
            Long("address") => host = Some(parser.value()?.to_string_lossy().into_owned()),
            Long("port") => port = Some(parse_port(parser.value()?)?),
            Value(value) if protocol.is_none() && host.is_none() => {
                let text = value.to_string_lossy().into_owned();
                match Protocol::from_name(&text) {
                    Some(p) => protocol = Some(p),
                    None => host = Some(text),
                }
            }
            Value(value) if protocol == Some(&channels::PROTOCOL) && name.is_none() => {
                name = Some(value.to_string_lossy().into_owned())
            }
            Value(value) if host.is_none() => host = Some(value.to_string_lossy().into_owned()),
            Value(value) if port.is_none() => port = Some(parse_port(value)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    match (host, port) {
        (Some(host), Some(port)) => Ok(ClientArgs {
            protocol: protocol.unwrap_or(Protocol::DEFAULT),
            name,
            host,
            port,
        }),
        _ => Err(CliError::Usage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_takes_host_and_port_either_way() {
        let want = ClientArgs {
            protocol: &crate::dialect::mesg::PROTOCOL,
            name: None,
            host: "localhost".into(),
            port: 9000,
        };
        assert_eq!(parse_client_args(["localhost", "9000"]), Ok(want.clone()));
        assert_eq!(
            parse_client_args(["mesg", "localhost", "9000"]),
            Ok(want.clone())
        );
        assert_eq!(
            parse_client_args(["--address", "localhost", "--port", "9000"]),
            Ok(want)
        );
        assert_eq!(parse_client_args(["localhost"]), Err(CliError::Usage));
    }

    #[test]
    fn client_dialects_take_their_own_arguments() {
        let hello =
            parse_client_args(["hello", "--address", "127.0.0.1", "--port", "5378"]).unwrap();
        assert_eq!(
            (hello.protocol, hello.host.as_str(), hello.port),
            (&crate::dialect::hello::PROTOCOL, "127.0.0.1", 5378)
        );
        let channels = parse_client_args(["channels", "ana", "localhost", "55555"]).unwrap();
        assert_eq!(channels.name.as_deref(), Some("ana"));
        assert_eq!(
            (channels.protocol, channels.port),
            (&crate::dialect::channels::PROTOCOL, 55555)
        );
        let sendto = parse_client_args(["sendto", "localhost", "9100"]).unwrap();
        assert_eq!(
            (sendto.protocol, sendto.name),
            (&crate::dialect::sendto::PROTOCOL, None)
        );
    }
}
