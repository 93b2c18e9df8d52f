//! The examples run on the real kernel, as a user runs them: the binaries
//! `cargo test` built beside this test, started briefly, their output
//! checked against what the test made happen (processes started, context
//! switches, packets sent through a veth pair in network namespaces of the
//! test's own).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-HASH -> target/<profile>/examples/NAME
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(p.exists(), "{} not built (cargo test builds the examples)", p.display());
    p
}

fn kernel() -> bool {
    bpfld_testdata::require_kernel()
}

#[test]
fn execsnoop_prints_the_processes_started() {
    if !kernel() {
        return;
    }
    let mut child = Command::new(example("execsnoop")).args(["--duration", "4"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    out.read_line(&mut header).unwrap();
    assert!(header.starts_with("PID"), "{header}");
    let pids: Vec<u32> = (0..3)
        .map(|_| Command::new("/bin/true").spawn().unwrap())
        .map(|mut c| {
            c.wait().unwrap();
            c.id()
        })
        .collect();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut out, &mut text).unwrap();
    assert!(child.wait().unwrap().success());
    for pid in pids {
        let line = text.lines().find(|l| l.split_whitespace().next() == Some(&pid.to_string()));
        let line = line.unwrap_or_else(|| panic!("pid {pid} missing from:\n{text}"));
        assert!(line.ends_with("/bin/true"), "{line}");
    }
}

#[test]
fn runqlat_counts_wakeups() {
    if !kernel() {
        return;
    }
    let sleeper = std::thread::spawn(|| {
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let out = Command::new(example("runqlat")).args(["--duration", "1"]).output().unwrap();
    sleeper.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let total: u64 = text.lines().find_map(|l| l.strip_prefix("total: ")).unwrap().parse().unwrap();
    assert!(total >= 100, "{total} wake-ups measured while a thread slept 200 times:\n{text}");
    let rows: u64 = text
        .lines()
        .filter(|l| l.contains("->"))
        .map(|l| l.split(':').nth(1).unwrap().split_whitespace().next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(rows, total, "histogram rows add up to the total");
}

/// Two network namespaces joined by a veth pair, removed on drop.
struct Netns {
    a: String,
    b: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Netns {
    fn new() -> Netns {
        let id = std::process::id();
        let n = Netns { a: format!("bpfldex-a-{id}"), b: format!("bpfldex-b-{id}") };
        ip(&["netns", "add", &n.a]);
        ip(&["netns", "add", &n.b]);
        ip(&["link", "add", "veth-a", "netns", &n.a, "type", "veth", "peer", "name", "veth-b", "netns", &n.b]);
        ip(&["-n", &n.a, "addr", "add", "10.211.0.1/24", "dev", "veth-a"]);
        ip(&["-n", &n.b, "addr", "add", "10.211.0.2/24", "dev", "veth-b"]);
        ip(&["-n", &n.a, "link", "set", "veth-a", "up"]);
        ip(&["-n", &n.b, "link", "set", "veth-b", "up"]);
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).status();
    }
}

#[test]
fn pktcount_counts_packets_on_a_veth_pair() {
    if !kernel() {
        return;
    }
    let ns = Netns::new();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.a])
        .arg(example("pktcount"))
        .args(["veth-a", "--duration", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("counting"), "{line}");
    // 10 UDP datagrams from the other namespace (plus ARP before them).
    let send = Command::new("ip")
        .args(["netns", "exec", &ns.b, "python3", "-c"])
        .arg("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(10): s.sendto(b'x'*100,('10.211.0.1',9))")
        .status()
        .unwrap();
    assert!(send.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    let packets: u64 = last.split_whitespace().nth(1).unwrap().parse().unwrap();
    let bytes: u64 = last.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!((10..=20).contains(&packets), "10 datagrams (and ARP) sent: {last}");
    assert!(bytes >= 10 * 142, "10 frames of 142 bytes at least: {last}");
}
