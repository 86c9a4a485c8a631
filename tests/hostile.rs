//! One student must never take the server from the class: each attack a
//! hostile client can make with a small script, reproduced at a small
//! scale, and what the server does about it (README, "Robustness").
//!
//! No test here measures time: fairness and the bound on a turn's work
//! are read from the server's trace (`--trace` names every turn,
//! every read and the work each turn did), memory from /proc.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

/// Connects from another loopback address (all of 127.0.0.0/8 is this
/// machine): to the server, another host.
fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect(&addr.into())?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

// ----- 1. the read budget holds --------------------------------------------

#[test]
fn a_flooder_is_read_at_most_once_and_its_budget_per_turn() {
    // The trace names every turn and every read; a queue limit no flood
    // reaches, as this is about reading only.
    let server = Server::start(&["--trace", "--max-queue", "1000000000"]);
    let flooders: Vec<Client> = (0..3).map(|_| Client::connect(server.addr())).collect();
    let mut quiet = Client::connect(server.addr());
    sync(&mut quiet);
    // Stopped, the server reads nothing while each flooder writes 1 MB of
    // empty lines (which cost nothing to handle): from the moment it goes
    // on, each has far more waiting than one turn may read.
    server.signal(libc::SIGSTOP);
    let writers: Vec<_> = flooders
        .iter()
        .map(|f| {
            let mut stream = f.stream.try_clone().unwrap();
            std::thread::spawn(move || stream.write_all(&[b'\n'; 1 << 20]).unwrap())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGCONT);
    for w in writers {
        w.join().unwrap();
    }
    // Every flooder byte read, by the trace's own count.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while total_read(&server) < 3 << 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the trace shows no flood read"
        );
        sync(&mut quiet);
    }
    let mut turn = 0;
    let mut reads_this_turn: Vec<String> = Vec::new();
    let mut turns_with_reads = 0;
    for line in server.log_lines() {
        if line.contains("log lines dropped") {
            panic!("the trace lost lines: {line}");
        }
        // "Turn 12: poll returned 3 events (timeout none)" starts a turn.
        if let Some(rest) = line
            .split("Turn ")
            .nth(1)
            .filter(|r| r.contains(": poll returned "))
        {
            turn = rest.split(':').next().unwrap().parse().unwrap();
            turns_with_reads += usize::from(!reads_this_turn.is_empty());
            reads_this_turn.clear();
            continue;
        }
        let Some((fd, bytes)) = parse_read(&line) else {
            continue;
        };
        assert!(bytes <= 65536, "turn {turn}: fd {fd} read {bytes} bytes");
        assert!(
            !reads_this_turn.contains(&fd),
            "turn {turn}: fd {fd} read twice"
        );
        reads_this_turn.push(fd);
    }
    // 3 MB at 64 KiB per flooder per turn: sixteen turns or more.
    assert!(
        turns_with_reads >= 16,
        "{turns_with_reads} turns read the flood"
    );
}

/// Bytes the trace says were read, over all connections.
fn total_read(server: &Server) -> usize {
    server
        .log_lines()
        .iter()
        .filter_map(|l| parse_read(l))
        .map(|(_, bytes)| bytes)
        .sum()
}

/// `Client (7): read 65536 bytes in all, stopped: ...` as ("7", 65536).
fn parse_read(line: &str) -> Option<(String, usize)> {
    let rest = line.split("Client (").nth(1)?;
    let (fd, rest) = rest.split_once("): read ")?;
    let bytes = rest.split(' ').next()?.parse().ok()?;
    Some((fd.to_string(), bytes))
}

// ----- helpers for the dialects ----------------------------------------

use pollchat::dialect::sendto::packet::{ClientPacket, ServerPacket, Status};

fn sendto_packet(packet: ClientPacket<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    packet.encode(&mut bytes);
    bytes
}

fn sendto_read(c: &mut Client) -> Vec<u8> {
    let mut packet = c.read_bytes(5);
    let len = u32::from_be_bytes([packet[1], packet[2], packet[3], packet[4]]) as usize;
    packet.extend(c.read_bytes(len));
    packet
}

fn sendto_login(addr: SocketAddr, name: &str) -> Client {
    let mut c = Client::connect(addr);
    c.send(&sendto_packet(ClientPacket::Login { name }));
    let reply = sendto_read(&mut c);
    assert_eq!(
        ServerPacket::decode(&reply),
        Ok(ServerPacket::Response(Status::Ok))
    );
    c
}

fn frame(text: &str) -> Vec<u8> {
    let mut f = text.as_bytes().to_vec();
    f.resize(200, b' ');
    f
}

/// Makes `stream`'s receive buffer small, so a client that stops reading
/// fills the path to it with little.
fn shrink_receive_buffer(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 16 * 1024;
    // SAFETY: a plain socket option on a socket we own, with a pointer to
    // a local of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
}

/// Sends PING and reads lines until PONG; returns how many came first.
fn ping_through(c: &mut Client) -> usize {
    c.send_line("PING");
    let mut lines = 0;
    while c.read_line() != "PONG" {
        lines += 1;
    }
    lines
}

fn no_one_cut_off(server: &Server) {
    for line in server.log_lines() {
        assert!(
            !line.contains("not reading") && !line.contains("Not reading"),
            "a reader was cut off: {line}"
        );
    }
}

// ----- 2. readers are never cut off for a sender's speed ----------------

/// A reader on its own thread: reads lines until it has `lines`, then
/// gives the client back.
fn reader(mut c: Client, lines: usize, want: &'static str) -> JoinHandle<Client> {
    std::thread::spawn(move || {
        for i in 0..lines {
            assert_eq!(c.read_line(), want, "line {i}");
        }
        c
    })
}

#[test]
fn readers_keep_up_with_a_broadcast_flood_and_the_flooder_is_slowed() {
    let server = Server::start(&["--max-queue", "65536"]);
    let mut flooder = joined(server.addr(), "flood");
    let text = "z".repeat(100);
    let line = format!("BCST {text}\r\n");
    let want: &'static str = format!("FROM flood: {text}").leak();
    let lines = 100_000;
    // Ten MB to each of three readers: far more than the 64 KiB limit and
    // their sockets. They read as fast as they can; the flooder writes all
    // at once, as fast as the server lets it.
    let readers: Vec<_> = (0..3)
        .map(|i| reader(joined(server.addr(), &format!("r{i}")), lines, want))
        .collect();
    let mut writer = flooder.stream.try_clone().unwrap();
    let all = line.repeat(lines);
    let writing = std::thread::spawn(move || writer.write_all(all.as_bytes()).unwrap());
    writing.join().unwrap();
    for r in readers {
        let mut c = r.join().expect("a reader got every line");
        assert_eq!(ping_through(&mut c), 0);
    }
    sync(&mut flooder);
    no_one_cut_off(&server);
}

#[test]
fn a_slow_reader_slows_the_flooder_and_is_not_cut_off() {
    let server = Server::start(&["--max-queue", "65536"]);
    let mut flooder = joined(server.addr(), "flood");
    let mut slow = joined(server.addr(), "slow");
    let line = format!("BCST {}\r\n", "s".repeat(200));
    let lines = 3_000;
    // 620 KB, read at about 100 KB/s: some six seconds, longer than the
    // stall timeout, but the reader never stops taking bytes.
    let mut writer = flooder.stream.try_clone().unwrap();
    let all = line.repeat(lines);
    let writing = std::thread::spawn(move || writer.write_all(all.as_bytes()).unwrap());
    let mut buf = [0u8; 8192];
    let mut got = 0;
    let expected = lines * (line.len() - "BCST ".len() + "FROM flood: ".len());
    while got < expected {
        let n = slow.stream.read(&mut buf).unwrap();
        assert!(n > 0, "the slow reader was cut off after {got} bytes");
        got += n;
        // The attack's shape, not a synchronisation: a reader on a slow link.
        std::thread::sleep(Duration::from_millis(80));
    }
    writing.join().unwrap();
    sync(&mut slow);
    sync(&mut flooder);
    no_one_cut_off(&server);
}

#[test]
fn readers_survive_the_server_being_stopped_while_broadcasts_pile_up() {
    let server = Server::start(&["--max-users", "40"]);
    let text = "w".repeat(100);
    let want: &'static str = format!("FROM b: {text}").leak();
    let (senders, per_sender) = (12, 2_000);
    let mut broadcasters: Vec<Client> = (0..senders)
        .map(|i| joined(server.addr(), &format!("b{i}")))
        .collect();
    let readers: Vec<Client> = (0..20)
        .map(|i| joined(server.addr(), &format!("r{i}")))
        .collect();
    // Stopped for a moment (a busy machine, a debugger, Ctrl-Z): the
    // broadcasts pile up in the kernel and come in all at once.
    server.signal(libc::SIGSTOP);
    let writers: Vec<_> = broadcasters
        .iter()
        .map(|b| {
            let mut stream = b.stream.try_clone().unwrap();
            let all = format!("BCST {text}\r\n").repeat(per_sender);
            std::thread::spawn(move || stream.write_all(all.as_bytes()).unwrap())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGCONT);
    // Every reader gets every broadcast from every broadcaster, in order
    // per broadcaster (all lines are alike here; their count is the test).
    let reading: Vec<_> = readers
        .into_iter()
        .map(|mut c| {
            std::thread::spawn(move || {
                for i in 0..senders * per_sender {
                    let line = c.read_line();
                    let text = line.split_once(": ").map(|(_, t)| t);
                    assert_eq!(text, want.split_once(": ").map(|(_, t)| t), "line {i}");
                }
                c
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for r in reading {
        let mut c = r.join().expect("a reader got every line");
        assert_eq!(ping_through(&mut c), 0);
    }
    for b in &mut broadcasters {
        // Each broadcaster got the others' broadcasts; read them away.
        ping_through(b);
    }
    no_one_cut_off(&server);
}

#[test]
fn a_reply_larger_than_the_queue_limit_gets_through_to_its_reader() {
    let server = Server::start_raw(&[
        "--listen",
        "mesg=127.0.0.1:0",
        "--listen",
        "sendto=127.0.0.1:0",
        "--max-queue",
        "1024",
    ]);
    // A hundred users with 20-byte names: the LIST table is about 2.6 KB.
    let _users: Vec<Client> = (0..100)
        .map(|i| sendto_login(server.addr_of("sendto"), &format!("user{i:016}")))
        .collect();
    let mut asker = joined(server.addr_of("mesg"), "asker");
    // Ten at once: each answered in full, in order.
    asker.send("LIST\r\n".repeat(10).as_bytes());
    for _ in 0..10 {
        asker.expect_line("USERNAME\tFD");
        asker.expect_line(RULE);
        let mut rows = 0;
        while asker.read_line() != RULE {
            rows += 1;
        }
        assert_eq!(rows, 101);
    }
    sync(&mut asker);
    no_one_cut_off(&server);
}

#[test]
fn a_join_leave_hopper_is_slowed_and_the_channel_keeps_every_notice() {
    let server = Server::start(&["--protocol", "channels", "--max-queue", "16384"]);
    let named = |name: &str| {
        let mut c = Client::connect(server.addr());
        c.send(&frame(name));
        c
    };
    let mut first = named("first");
    first.send(&frame("/create a"));
    first.send(&frame("/create b"));
    first.send(&frame("/join a"));
    // A barrier: a bare /join is answered at once.
    first.send(&frame("/join"));
    let barrier = "/join command must be followed by the name of a channel to join.";
    assert_eq!(
        String::from_utf8_lossy(&first.read_bytes(200)).trim_end(),
        barrier
    );
    let mut members = vec![first];
    for i in 0..9 {
        let mut m = named(&format!("m{i}"));
        m.send(&frame("/join a"));
        m.send(&frame("/join"));
        assert_eq!(
            String::from_utf8_lossy(&m.read_bytes(200)).trim_end(),
            barrier
        );
        for earlier in &mut members {
            let notice = earlier.read_bytes(200);
            assert!(String::from_utf8_lossy(&notice).contains("has joined"));
        }
        members.push(m);
    }
    // The hopper: 20,000 /joins, alternating, in one write; each makes a
    // 200-byte notice to every member of channel a, 40 MB in all.
    let hops = 20_000;
    let mut hopper = named("hopper");
    let mut all = Vec::new();
    for i in 0..hops {
        all.extend(frame(if i % 2 == 0 { "/join a" } else { "/join b" }));
    }
    all.extend(frame("/join"));
    let mut writer = hopper.stream.try_clone().unwrap();
    let writing = std::thread::spawn(move || writer.write_all(&all).unwrap());
    let reading: Vec<_> = members
        .into_iter()
        .map(|mut m| {
            std::thread::spawn(move || {
                for i in 0..hops {
                    let notice = String::from_utf8_lossy(&m.read_bytes(200)).into_owned();
                    let want = if i % 2 == 0 {
                        "hopper has joined"
                    } else {
                        "hopper has left"
                    };
                    assert_eq!(notice.trim_end(), want, "notice {i}");
                }
                m
            })
        })
        .collect();
    writing.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&hopper.read_bytes(200)).trim_end(),
        barrier
    );
    let mut members: Vec<Client> = reading
        .into_iter()
        .map(|r| r.join().expect("a member got every notice"))
        .collect();
    for m in &mut members {
        m.send(&frame("/join"));
        assert_eq!(
            String::from_utf8_lossy(&m.read_bytes(200)).trim_end(),
            barrier
        );
    }
    no_one_cut_off(&server);
}

// ----- 3. one turn does bounded work --------------------------------------

#[test]
fn one_turn_does_a_bounded_amount_of_work_whatever_one_client_sends() {
    let server = Server::start_raw(&[
        "--listen",
        "mesg=127.0.0.1:0",
        "--listen",
        "sendto=127.0.0.1:0",
        "--max-queue",
        "10000000",
        "--trace",
    ]);
    // Two hundred recipients that never read.
    let recipients: Vec<Client> = (0..200)
        .map(|i| {
            let c = sendto_login(server.addr_of("sendto"), &format!("r{i}"));
            shrink_receive_buffer(&c.stream);
            c
        })
        .collect();
    let mut flooder = joined(server.addr_of("mesg"), "flood");
    let line = format!("BCST {}\r\n", "b".repeat(40));
    flooder.send(line.repeat(5_000).as_bytes());
    sync(&mut flooder);
    // A newcomer is answered while the flood is being delivered.
    let mut fresh = Client::connect(server.addr_of("mesg"));
    sync(&mut fresh);
    // One broadcast costs at most a recipient's packet plus its bookkeeping
    // per recipient; a connection stops for the turn once its work passes
    // 8 MiB, so no turn does more than that plus one broadcast. (Before,
    // a turn handled all 64 KiB the flooder sent: 1,300 broadcasts, 18 MB.)
    let one_broadcast = recipients.len() * (5 + 2 + 5 + 2 + 40 + 16);
    let mut turns = 0;
    for line in server.log_lines() {
        let Some((rest, _)) = line.split_once(" bytes of work") else {
            continue;
        };
        let Some(work) = rest
            .rsplit(' ')
            .next()
            .and_then(|w| w.parse::<usize>().ok())
        else {
            continue;
        };
        turns += 1;
        assert!(work <= (8 << 20) + one_broadcast, "{line}");
    }
    assert!(turns > 0, "the trace shows no turns");
    drop(recipients);
}

// ----- 4. memory has a total budget ------------------------------------

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `n` sendto connections that each ask for LIST `lists` times, never
/// read, and never log in (LIST needs no login).
fn list_amplifiers(addr: SocketAddr, n: usize, lists: usize) -> Vec<Client> {
    use socket2::{Domain, Socket, Type};
    let lists = sendto_packet(ClientPacket::List).repeat(lists);
    (0..n)
        .map(|_| {
            // A small receive buffer set before connecting, so the window
            // stays small and the answers pile up in the server, not in
            // the kernel's buffers between.
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            socket.set_recv_buffer_size(4096).unwrap();
            socket.connect(&addr.into()).unwrap();
            let mut c = Client::from_stream(socket.into());
            c.send(&lists);
            c
        })
        .collect()
}

#[test]
fn list_amplifiers_are_cut_off_at_the_total_budget_and_readers_are_not() {
    let budget = 4 << 20;
    let server = Server::start(&[
        "--protocol",
        "sendto",
        "--max-total-queue",
        &budget.to_string(),
    ]);
    // Fifty users: each LIST answer is about 1 KB, 40 KB of requests buy
    // 8 MB of answers, more than the kernel buffers on the way.
    let mut users: Vec<Client> = (0..50)
        .map(|i| sendto_login(server.addr(), &format!("user{i:06}")))
        .collect();
    let rss_before = rss_kb(server.pid());
    let _attackers = list_amplifiers(server.addr(), 40, 8_000);
    server.wait_log("byte budget");
    // The users that read are still served.
    for u in &mut users {
        u.send(&sendto_packet(ClientPacket::List));
        let reply = sendto_read(u);
        assert!(matches!(
            ServerPacket::decode(&reply),
            Ok(ServerPacket::List(_))
        ));
    }
    no_one_cut_off_but_by_budget(&server);
    let grown = rss_kb(server.pid()).saturating_sub(rss_before);
    // 40 attackers were worth 320 MB of answers; the budget is 4 MB.
    assert!(grown < 24 * 1024, "the server grew by {grown} kB");
}

/// Only the budget cut anyone off.
fn no_one_cut_off_but_by_budget(server: &Server) {
    for line in server.log_lines() {
        assert!(!line.contains("Output queue over"), "{line}");
    }
}

#[test]
fn partial_packets_held_without_a_login_count_against_the_budget() {
    let budget = 4 << 20;
    let server = Server::start(&[
        "--protocol",
        "sendto",
        "--max-total-queue",
        &budget.to_string(),
    ]);
    let rss_before = rss_kb(server.pid());
    // A hundred connections each send all but the last byte of a 70 KB
    // SENDTO: 7 MB held in partial frames, more than the budget.
    let mut packet = vec![0x03];
    packet.extend(70_000u32.to_be_bytes());
    packet.extend(vec![b'p'; 69_999]);
    let holders: Vec<Client> = (0..100)
        .map(|_| {
            let mut c = Client::connect(server.addr());
            c.send(&packet);
            c
        })
        .collect();
    let cut = "byte budget";
    server.wait_log_count(cut, 100 - budget / 70_000);
    let grown = rss_kb(server.pid()).saturating_sub(rss_before);
    assert!(grown < 16 * 1024, "the server grew by {grown} kB");
    // Someone new is still served.
    let _fresh = sendto_login(server.addr(), "fresh");
    drop(holders);
}

#[test]
fn memory_goes_back_after_a_burst() {
    let server = Server::start(&["--protocol", "sendto"]);
    let _users: Vec<Client> = (0..50)
        .map(|i| sendto_login(server.addr(), &format!("user{i:06}")))
        .collect();
    let mut probe = sendto_login(server.addr(), "probe");
    let rss_before = rss_kb(server.pid());
    // 150 amplifiers, each holding its answers up to the back-pressure
    // mark: tens of MB while they last.
    let attackers = list_amplifiers(server.addr(), 150, 20_000);
    // (Status lines are too many to count here: the logger drops some.)
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut rss_peak = rss_kb(server.pid());
    while rss_peak < rss_before + 16 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "no burst: {rss_before} -> {rss_peak} kB"
        );
        // Sampling memory: nothing to wait for but the clock.
        std::thread::sleep(Duration::from_millis(20));
        rss_peak = rss_peak.max(rss_kb(server.pid()));
    }
    drop(attackers);
    // The sweep after the burst hands the memory back (four times a
    // second); a request per check keeps the loop turning.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut rss_after = rss_kb(server.pid());
    while rss_after > rss_before + (rss_peak - rss_before) / 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "memory did not come back: {rss_before} kB, peak {rss_peak} kB, now {rss_after} kB"
        );
        std::thread::sleep(Duration::from_millis(100));
        probe.send(&sendto_packet(ClientPacket::List));
        sendto_read(&mut probe);
        rss_after = rss_kb(server.pid());
    }
}

// ----- 5. slowloris ---------------------------------------------------

#[test]
fn the_login_timeout_is_a_deadline_whatever_the_client_sends() {
    let server = Server::start(&["--login-timeout", "0.5"]);
    let mut loris = Client::connect(server.addr());
    // A PING every 100 ms: active, but never registering. Bounded at ten
    // seconds' worth; it must be closed long before.
    for _ in 0..100 {
        loris.send_line("PING");
        if loris.try_read_line_or_closed(TIMEOUT).is_none() {
            server.wait_log("Not registered after");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("a client that never registered kept its connection");
}

#[test]
fn one_address_may_hold_only_so_many_connections() {
    let server = Server::start(&["--max-per-ip", "5"]);
    let from = Ipv4Addr::new(127, 0, 0, 2);
    let mut held: Vec<TcpStream> = (0..5)
        .map(|_| connect_from(from, server.addr()).unwrap())
        .collect();
    for c in &mut held {
        c.write_all(b"PING\r\n").unwrap();
    }
    for c in held.iter().map(|s| s.try_clone().unwrap()) {
        let mut c = Client::from_stream(c);
        c.expect_line("PONG");
    }
    // The sixth from that address is closed at once.
    let mut sixth = Client::from_stream(connect_from(from, server.addr()).unwrap());
    sixth.expect_closed();
    server.wait_log("Connection from 127.0.0.2 refused");
    // Another address is served.
    let _other = joined(server.addr(), "other");
    // A slot freed is a slot again.
    drop(held.pop());
    server.wait_log("Disconnecting User.");
    let mut again = Client::from_stream(connect_from(from, server.addr()).unwrap());
    sync(&mut again);
}

#[test]
fn a_newcomer_gets_in_while_idle_connections_hold_every_slot() {
    // 40 descriptors, 32 kept for the server: 8 connections at once.
    let server = Server::start_with(
        &["--address", "127.0.0.1", "--port", "0", "--max-per-ip", "0"],
        limit_fds(40),
    );
    server.wait_log("up to 8 connections");
    let mut registered = joined(server.addr(), "regular");
    // Seven connections that never register fill the rest.
    let mut idle: Vec<Client> = (0..7).map(|_| Client::connect(server.addr())).collect();
    for c in &mut idle {
        sync(c);
    }
    // The newcomer is accepted: the oldest unregistered connection makes
    // room, and the registered one is never the one to go.
    let _newcomer = joined(server.addr(), "newcomer");
    server.wait_log("making room for a newcomer");
    idle.remove(0).wait_closed();
    sync(&mut registered);
}

// ----- 7. burst connects ---------------------------------------------

/// The accept queue of the listener on `port`, as `ss` shows it (its
/// Send-Q column), is at least `want`, or the kernel's cap if lower.
fn assert_listen_backlog_at_least(port: u16, want: usize) {
    let cap: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(want);
    let Ok(out) = std::process::Command::new("ss").args(["-Hltn"]).output() else {
        eprintln!("ss (iproute2) is not installed: the backlog is not checked");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(&format!(":{port} ")))
        .unwrap_or_else(|| panic!("no listener on port {port} in {text}"));
    let backlog: usize = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(backlog >= want.min(cap), "listen backlog {backlog}: {line}");
}

#[test]
fn a_burst_of_connects_is_never_lost() {
    use socket2::{Domain, Socket, Type};
    let server = Server::start(&[]);
    assert_listen_backlog_at_least(server.addr().port(), 4096);
    let addr: socket2::SockAddr = server.addr().into();
    // 10,000 clients connect at once, from 50 addresses (to stay under
    // --max-per-ip). The kernel completes the handshakes and queues them
    // for accept; with a queue of 128 the overflow was acknowledged to the
    // clients and then dropped by the server, which never saw them.
    let total = 10000;
    let sockets: Vec<Socket> = (0..total)
        .map(|i: usize| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            let from = SocketAddr::from((Ipv4Addr::new(127, 0, 1, 1 + (i % 50) as u8), 0));
            s.bind(&from.into()).unwrap();
            s.set_nonblocking(true).unwrap();
            let _ = s.connect(&addr); // EINPROGRESS
            s
        })
        .collect();
    let mut clients: Vec<Client> = sockets
        .into_iter()
        .map(|s| {
            s.set_nonblocking(false).unwrap();
            // A blocking write waits for the connection to complete.
            s.set_write_timeout(Some(TIMEOUT)).unwrap();
            let mut stream: TcpStream = s.into();
            stream.write_all(b"PING\r\n").unwrap();
            Client::from_stream(stream)
        })
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            c.try_read_line_or_closed(TIMEOUT).as_deref(),
            Some("PONG"),
            "client {i} of {total}"
        );
    }
}

#[test]
fn a_turn_accepts_at_most_its_slice_from_a_listener() {
    // 300 connects queue up while the server is stopped, so its next turn
    // finds them all waiting: it takes one slice (64) per listener, and
    // the rest in later turns, however often the turn comes back to the
    // listener.
    let server = Server::start(&["--trace", "--max-per-ip", "0"]);
    server.signal(libc::SIGSTOP);
    let clients: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    server.signal(libc::SIGCONT);
    server.wait_log_count("listener: accepted Client (", clients.len());
    let mut per_turn = Vec::new();
    for line in server.log_lines() {
        if line.contains(": poll returned ") {
            per_turn.push(0);
        } else if line.contains("listener: accepted Client (") {
            *per_turn.last_mut().unwrap() += 1;
        }
    }
    let most = per_turn.iter().max().copied().unwrap_or(0);
    assert!(most <= 64, "one turn accepted {most}: {per_turn:?}");
    assert!(per_turn.iter().filter(|&&n| n > 0).count() >= 5);
}

#[test]
fn a_reader_that_stops_holds_its_flooder_back_until_the_stall_timeout() {
    // The reader stops reading at once. With back-pressure its flooder is
    // not read while the reader's backlog is over the high-water mark, so
    // the backlog never passes --max-queue: the reader goes because it
    // keeps a sender waiting (--stall-timeout), not because its queue
    // overflowed. Without back-pressure the flood (far more than the
    // kernel's buffers on the path hold) overflows the queue first.
    let server = Server::start(&["--max-queue", "65536", "--stall-timeout", "1"]);
    let mut flooder = joined(server.addr(), "flood");
    let stopped = joined(server.addr(), "stopped");
    shrink_receive_buffer(&stopped.stream);
    let line = server.wait_log("): JOIN stopped");
    let fd = line
        .split("Client (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let mut writer = flooder.stream.try_clone().unwrap();
    let all = format!("BCST {}\r\n", "f".repeat(200)).repeat(40_000);
    let writing = std::thread::spawn(move || writer.write_all(all.as_bytes()).unwrap());
    let stall = format!("Client ({fd}): Not reading while a sender waits on it");
    let overflow = format!("Client ({fd}): Output queue over");
    let why = server.wait_log_any(&[&stall, &overflow]);
    assert!(why.contains(&stall), "the reader was cut off as: {why}");
    // Let go once the reader is gone, the flooder is read to its end.
    writing.join().unwrap();
    sync(&mut flooder);
    drop(stopped);
}
