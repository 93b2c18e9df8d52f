//! Network and cgroup environments of the attach tests, made by the test
//! and removed after it: two fresh network namespaces joined by a veth
//! pair (nothing of the host's network is touched), and a cgroup v2 of the
//! test's own.
#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bpfld::LoadedObject;

/// Two network namespaces, A and B, joined by a veth pair: `va`
/// (10.77.0.1/24) in A, `vb` (10.77.0.2/24) in B. The thread that made
/// it is in A; both namespaces and the pair go away with the thread and
/// the fds held here.
pub struct VethPair {
    pub ns_a: File,
    pub ns_b: File,
    /// Index of `va` in A.
    pub if_a: u32,
    /// Index of `vb` in B.
    pub if_b: u32,
}

pub const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
pub const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

fn unshare_net() -> File {
    // SAFETY: unshare(CLONE_NEWNET) affects only the calling thread.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
    File::open("/proc/thread-self/ns/net").expect("open own netns")
}

/// Moves the calling thread to the network namespace `ns`.
pub fn enter(ns: &File) {
    // SAFETY: setns with a namespace fd affects only the calling thread.
    let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
}

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip (iproute2)");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

fn ifindex(name: &str) -> u32 {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: c is a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert_ne!(i, 0, "no interface {name}");
    i
}

/// Runs `f` in a new thread whose network namespace is A of a fresh
/// [`VethPair`].
pub fn with_veth<R: Send>(f: impl FnOnce(&VethPair) -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(|| {
            let ns_b = unshare_net();
            ip(&["link", "set", "lo", "up"]);
            let ns_a = unshare_net();
            ip(&["link", "set", "lo", "up"]);
            let peer = format!("/proc/{}/fd/{}", std::process::id(), ns_b.as_raw_fd());
            ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &peer]);
            ip(&["addr", "add", "10.77.0.1/24", "dev", "va"]);
            ip(&["link", "set", "va", "up"]);
            let if_a = ifindex("va");
            enter(&ns_b);
            ip(&["addr", "add", "10.77.0.2/24", "dev", "vb"]);
            ip(&["link", "set", "vb", "up"]);
            let if_b = ifindex("vb");
            enter(&ns_a);
            let pair = VethPair { ns_a, ns_b, if_a, if_b };
            pair.wait_until_up();
            f(&pair)
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

impl VethPair {
    /// Runs `f` in namespace B, then comes back to A.
    pub fn in_b<R>(&self, f: impl FnOnce() -> R) -> R {
        enter(&self.ns_b);
        let r = f();
        enter(&self.ns_a);
        r
    }

    /// Waits until a datagram from A reaches B: the pair's carrier comes
    /// up asynchronously (linkwatch), packets sent before are dropped; the
    /// neighbour entries get resolved on the way.
    fn wait_until_up(&self) {
        let rx = self.in_b(|| UdpSocket::bind((ADDR_B, 9)).expect("bind probe port in B"));
        rx.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let tx = UdpSocket::bind((ADDR_A, 0)).expect("bind in A");
        let mut buf = [0u8; 8];
        for _ in 0..250 {
            let _ = tx.send_to(b"up?", SocketAddr::from((ADDR_B, 9)));
            if rx.recv(&mut buf).is_ok() {
                return;
            }
        }
        panic!("the veth pair did not come up in 5 s");
    }

    /// A UDP socket of B on `port` (bound while in B), reading with a
    /// short timeout.
    pub fn receiver_b(&self, port: u16) -> UdpSocket {
        self.in_b(|| {
            let s = UdpSocket::bind((ADDR_B, port)).expect("bind in B");
            s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            s
        })
    }

    /// Sends `n` UDP datagrams from A to B's `port`.
    pub fn send_a_to_b(&self, port: u16, n: usize) {
        let tx = UdpSocket::bind((ADDR_A, 0)).expect("bind in A");
        for i in 0..n {
            tx.send_to(format!("bpfld {i}").as_bytes(), SocketAddr::from((ADDR_B, port))).expect("send");
        }
    }
}

/// Datagrams `rx` receives until a read times out.
pub fn drain(rx: &UdpSocket) -> usize {
    let mut buf = [0u8; 64];
    let mut n = 0;
    while rx.recv(&mut buf).is_ok() {
        n += 1;
    }
    n
}

/// What most network attach tests start from, in namespace A of a fresh
/// [`VethPair`]: an object loaded with its `target_port` global set to a
/// port of the test's own, and a UDP socket of B bound to that port.
pub struct PortTest<'a> {
    pub net: &'a VethPair,
    pub port: u16,
    pub obj: LoadedObject,
    pub rx: UdpSocket,
}

/// Runs `f` with a [`PortTest`] of the test object `object`; returns at
/// once where kernel tests cannot run (see `bpfld_testdata::require_kernel`).
pub fn with_port_test(object: &str, f: impl FnOnce(PortTest<'_>) + Send) {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    with_veth(|net| {
        let port = test_port();
        let mut open = crate::common::open(object);
        open.set_global("target_port", &port.to_ne_bytes()).unwrap();
        let obj = open.load().unwrap_or_else(|e| panic!("{e}"));
        let rx = net.receiver_b(port);
        f(PortTest { net, port, obj, rx })
    })
}

/// A port for one test (distinct across the tests of a run).
pub fn test_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    40000 + (std::process::id() % 1000) as u16 * 10 + NEXT.fetch_add(1, Ordering::Relaxed) as u16
}

/// A cgroup v2 of the test's own, removed on drop (after its processes
/// have exited).
pub struct TestCgroup {
    pub path: PathBuf,
}

/// Where cgroup v2 is mounted: `/sys/fs/cgroup` on a unified system, the
/// `unified` directory of a hybrid one.
pub fn cgroup2_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        let (_, dir, fs) = (w.next()?, w.next()?, w.next()?);
        (fs == "cgroup2").then(|| PathBuf::from(dir))
    })
}

impl TestCgroup {
    pub fn new(name: &str) -> TestCgroup {
        let root = cgroup2_root().expect("cgroup2 mounted");
        let path = root.join(format!("bpfld-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir(&path);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TestCgroup { path }
    }

    /// Moves process `pid` into the cgroup.
    pub fn add(&self, pid: u32) {
        let mut f = File::options().write(true).open(self.path.join("cgroup.procs")).unwrap();
        f.write_all(pid.to_string().as_bytes()).unwrap_or_else(|e| panic!("moving {pid} into {}: {e}", self.path.display()));
    }

    pub fn dir(&self) -> File {
        File::open(&self.path).unwrap()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("could not remove {}", self.path.display());
    }
}

/// Runs the bash `script` as a child in `cgroup`: the child waits on its
/// stdin until it has been moved, then runs; returns its exit status.
pub fn run_in_cgroup(cgroup: &TestCgroup, script: &str) -> std::process::ExitStatus {
    let mut child =
        Command::new("bash").arg("-c").arg(format!("read _go; {script}")).stdin(std::process::Stdio::piped()).spawn().expect("spawn bash");
    cgroup.add(child.id());
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    child.wait().unwrap()
}

/// A bpffs directory of the test's own, removed (with its pins) on drop.
pub struct PinDir(pub PathBuf);

impl PinDir {
    pub fn new(name: &str) -> PinDir {
        let p = Path::new("/sys/fs/bpf").join(format!("bpfld-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        PinDir(p)
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
