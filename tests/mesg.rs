//! The `mesg` dialect over real sockets: every row of PROTOCOLS.md section 1.

mod common;
use common::*;

#[test]
fn join_list_mesg_quit() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    alice.send_line("MESG bob hello there");
    bob.expect_line("FROM alice: hello there");
    alice.send_line("QUIT");
    alice.expect_closed();
}
