//! struct_ops maps in the running kernel: a BPF TCP congestion control
//! (tests/bpf/struct_ops_cc*.bpf.c) loaded, registered (the kernel lists it
//! among the available congestion controls), used by a TCP connection
//! over loopback (its `init` program counts the sockets that picked it),
//! and unregistered when its link is dropped. Each object registers under
//! its own name, so the tests can run in parallel.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use bpfld::{LoadedObject, ProgramState};
use bpfld_asm::types::{MapType, ProgType};
use bpfld_btf::{Btf, Kind};
use bpfld_testdata::require_kernel;
use common::*;

const AVAILABLE: &str = "/proc/sys/net/ipv4/tcp_available_congestion_control";

fn available() -> Vec<String> {
    std::fs::read_to_string(AVAILABLE).unwrap().split_whitespace().map(str::to_string).collect()
}

fn vmlinux() -> Btf {
    Btf::from_vec(std::fs::read("/sys/kernel/btf/vmlinux").unwrap()).unwrap()
}

fn set_congestion(fd: i32, name: &str) -> std::io::Result<()> {
    // SAFETY: fd is an open socket; the option value is a live buffer of
    // the given length.
    let r = unsafe { libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_CONGESTION, name.as_ptr().cast(), name.len() as libc::socklen_t) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn congestion_of(fd: i32) -> String {
    let mut buf = [0u8; 16];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: fd is an open socket; buf and len are live and sized.
    let r = unsafe { libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_CONGESTION, buf.as_mut_ptr().cast(), &mut len) };
    assert_eq!(r, 0, "getsockopt(TCP_CONGESTION): {}", std::io::Error::last_os_error());
    let end = buf.iter().position(|&b| b == 0).unwrap_or(len as usize);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A loopback connection whose client uses congestion control `cc`; sends
/// `bytes` and returns once the server has read them all.
fn transfer_with(cc: &str, bytes: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < bytes {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed after {got} of {bytes} bytes");
            got += n;
        }
    });
    // SAFETY: plain socket(2) call; the fd is owned by the TcpStream below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    // SAFETY: fd is a fresh socket owned by nobody else.
    let client = unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    set_congestion(fd, cc).unwrap_or_else(|e| panic!("setsockopt(TCP_CONGESTION, {cc}): {e}"));
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([127, 0, 0, 1]) },
        sin_zero: [0; 8],
    };
    // SAFETY: sin is a valid sockaddr_in of the given size.
    let r = unsafe { libc::connect(fd, (&sin as *const libc::sockaddr_in).cast(), std::mem::size_of::<libc::sockaddr_in>() as u32) };
    assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
    assert_eq!(congestion_of(client.as_raw_fd()), cc, "the connection uses another congestion control");
    let mut client = client;
    let chunk = vec![0x5au8; 64 * 1024];
    let mut sent = 0;
    while sent < bytes {
        client.write_all(&chunk).unwrap();
        sent += chunk.len();
    }
    drop(client);
    server.join().unwrap();
}

/// Registers struct_ops map `map` of `obj` (congestion control `cc`),
/// checks the kernel lists it, makes a connection use it, runs
/// `registered`, and checks it is gone once the link is dropped (a map
/// cannot be registered again after that: the kernel refuses with EBUSY).
fn registers_and_counts(obj: &LoadedObject, map: &str, cc: &str, registered: impl FnOnce()) {
    assert!(!available().contains(&cc.to_string()), "{cc} is registered before the test");
    let link = obj.attach_struct_ops(map).unwrap_or_else(|e| panic!("{e}"));
    assert!(available().contains(&cc.to_string()), "{cc} not in {AVAILABLE}: {:?}", available());
    let before = obj.read_global_u64("init_calls").unwrap();
    transfer_with(cc, 4 << 20);
    let inits = obj.read_global_u64("init_calls").unwrap() - before;
    assert!(inits >= 1, "{cc}: init ran {inits} times for a connection using it");
    assert!(obj.read_global_u64("cong_avoid_calls").unwrap() > 0, "{cc}: cong_avoid never ran over 4 MiB");
    registered();
    drop(link);
    assert!(!available().contains(&cc.to_string()), "{cc} still registered after its link was dropped: {:?}", available());
}

/// What the kernel says about the loaded map and programs: the map's value
/// type is the kernel's `bpf_struct_ops_tcp_congestion_ops`, the programs
/// attach to `struct tcp_congestion_ops`.
fn check_kernel_view(obj: &LoadedObject, map: &str) {
    let btf = vmlinux();
    let value_type = btf.find_first("bpf_struct_ops_tcp_congestion_ops", Kind::Struct).unwrap();
    let ops_type = btf.find_first("tcp_congestion_ops", Kind::Struct).unwrap();
    let info = obj.map(map).unwrap().info().unwrap();
    assert_eq!(info.map_type, MapType::STRUCT_OPS);
    assert_eq!(info.btf_vmlinux_value_type_id, value_type);
    assert_eq!(info.value_size, btf.type_by_id(value_type).unwrap().size().unwrap());
    assert_eq!((info.key_size, info.max_entries), (4, 1));
    for name in ["bpfld_cc_init", "bpfld_cc_ssthresh", "bpfld_cc_cong_avoid", "bpfld_cc_undo_cwnd"] {
        let p = obj.program(name).unwrap();
        assert_eq!(p.prog_type(), ProgType::STRUCT_OPS);
        let pi = bpfld_sys::prog_info(p.fd().unwrap()).unwrap();
        assert_eq!(pi.attach_btf_id, ops_type, "{name}");
    }
    // expected_attach_type is the member's index in the kernel struct.
    let members: Vec<String> = btf.type_by_id(ops_type).unwrap().members().map(|m| btf.str(m.name_off).unwrap().to_string()).collect();
    for (name, member) in [("bpfld_cc_init", "init"), ("bpfld_cc_ssthresh", "ssthresh"), ("bpfld_cc_undo_cwnd", "undo_cwnd")] {
        let idx = members.iter().position(|m| m == member).unwrap() as u32;
        assert_eq!(obj.program(name).unwrap().expected_attach_type(), idx.into(), "{name}");
    }
}

#[test]
fn congestion_control_registered_through_a_link() {
    if !require_kernel() {
        return;
    }
    let obj = load("struct_ops_cc_link");
    let m = obj.map("bpfld_cc").unwrap();
    let st = m.struct_ops().expect("a struct_ops map");
    assert!(st.plan.link);
    assert_eq!(m.info().unwrap().map_flags, bpfld_obj::struct_ops::BPF_F_LINK);
    // The local member the kernel lacks was zero: skipped, as libbpf.
    assert_eq!(st.plan.skipped_members, ["bpfld_not_in_kernel"]);
    check_kernel_view(&obj, "bpfld_cc");
    registers_and_counts(&obj, "bpfld_cc", "bpfld_cc", || {});
}

#[test]
fn congestion_control_registered_by_map_update() {
    if !require_kernel() {
        return;
    }
    let obj = load("struct_ops_cc");
    let st = obj.map("bpfld_cc_map").unwrap().struct_ops().expect("a struct_ops map");
    assert!(!st.plan.link);
    check_kernel_view(&obj, "bpfld_cc_map");
    registers_and_counts(&obj, "bpfld_cc_map", "bpfld_cc_map", || {
        // The kernel reads back what was written: the name, and in each
        // program slot the id of the program whose fd was written there.
        let v = obj.map("bpfld_cc_map").unwrap().lookup_u32(0).unwrap().unwrap();
        let name_off = st.value.windows(12).position(|w| w == b"bpfld_cc_map").unwrap();
        assert_eq!(&v[name_off..name_off + 12], b"bpfld_cc_map");
        for slot in &st.plan.func_slots {
            let got = u64_of(&v[slot.offset..]);
            let id = bpfld_sys::prog_info(obj.program(&slot.program).unwrap().fd().unwrap()).unwrap().id;
            assert_eq!(got, u64::from(id), "member {}: the kernel keeps the id of program '{}'", slot.member, slot.program);
        }
    });
}

#[test]
fn uncreated_struct_ops_map_and_its_own_program_are_left_out() {
    if !require_kernel() {
        return;
    }
    let obj = load("struct_ops_cc");
    // SEC("?.struct_ops"): not created; the program only it points to is
    // not loaded, the ones it shares with the created map are.
    assert!(obj.map("bpfld_cc_alt").is_err());
    assert_eq!(obj.struct_ops_maps().count(), 1);
    assert!(matches!(obj.program("bpfld_cc_alt_ssthresh").unwrap().state(), ProgramState::Disabled));
    assert!(obj.program("bpfld_cc_cong_avoid").unwrap().is_loaded());

    // Created on request, it takes its program along (libbpf 1.7's
    // autoload rule for struct_ops programs).
    let mut open = open("struct_ops_cc");
    open.set_struct_ops_autocreate("bpfld_cc_alt", true).unwrap();
    let obj = open.load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(obj.struct_ops_maps().count(), 2);
    assert!(obj.program("bpfld_cc_alt_ssthresh").unwrap().is_loaded());
}

#[test]
fn shadow_struct_changes_the_registered_value() {
    if !require_kernel() {
        return;
    }
    let mut open = open("struct_ops_cc");
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"bpfld_cc_shdw");
    open.set_struct_ops_member("bpfld_cc_map", "name", &name).unwrap();
    // Without init: the program is then pointed to by no created map, and
    // is not loaded.
    open.set_struct_ops_program("bpfld_cc_map", "init", None).unwrap();
    assert!(open.set_struct_ops_member("bpfld_cc_map", "name", b"short").is_err());
    assert!(open.set_struct_ops_program("bpfld_cc_map", "name", Some("bpfld_cc_init")).is_err());
    let obj = open.load().unwrap_or_else(|e| panic!("{e}"));
    assert!(!obj.program("bpfld_cc_init").unwrap().is_loaded());
    let link = obj.attach_struct_ops("bpfld_cc_map").unwrap_or_else(|e| panic!("{e}"));
    assert!(available().contains(&"bpfld_cc_shdw".to_string()), "{:?}", available());
    drop(link);
    assert!(!available().contains(&"bpfld_cc_shdw".to_string()));
}

#[test]
fn a_registration_outlives_its_object_until_the_link_is_dropped() {
    if !require_kernel() {
        return;
    }
    let mut open = open("struct_ops_cc");
    let mut name = [0u8; 16];
    name[..14].copy_from_slice(b"bpfld_cc_alive");
    open.set_struct_ops_member("bpfld_cc_map", "name", &name).unwrap();
    let obj = open.load().unwrap_or_else(|e| panic!("{e}"));
    let link = obj.attach_struct_ops("bpfld_cc_map").unwrap();
    assert!(obj.attach_struct_ops("bpfld_cc_map").is_err(), "registered twice");
    drop(obj);
    assert!(available().contains(&"bpfld_cc_alive".to_string()));
    link.detach().unwrap();
    assert!(!available().contains(&"bpfld_cc_alive".to_string()));
}

#[test]
fn bbr_main_is_called_from_a_congestion_control() {
    if !require_kernel() {
        return;
    }
    let obj = open("struct_ops_bbr").load_with(&keep_going()).unwrap_or_else(|e| panic!("{e}"));
    // The flavor of the running kernel's prototype resolved, and the
    // program calling it passed the verifier.
    let resolved: Vec<&str> = obj.externs().iter().filter(|e| e.resolved).map(|e| e.name.as_str()).collect();
    assert!(resolved.iter().any(|n| n.starts_with("bbr_main___")), "no bbr_main flavor resolved: {:?}", obj.externs());
    for p in obj.programs() {
        assert!(p.is_loaded(), "{}: {:?}", p.name(), p.error().map(|e| e.to_string()));
    }
    let link = obj.attach_struct_ops("bpfld_bbr").unwrap_or_else(|e| panic!("{e}"));
    assert!(available().contains(&"bpfld_bbr".to_string()));
    drop(link);
}

#[test]
fn qmark_datasec_names_are_probed() {
    if !require_kernel() {
        return;
    }
    // What libbpf probes as FEAT_BTF_QMARK_DATASEC: Linux 6.9 and later
    // take it; the plan renames "?.struct_ops" where the kernel does not.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let v: Vec<u32> = release.trim().split(|c: char| !c.is_ascii_digit()).take(2).map(|x| x.parse().unwrap()).collect();
    assert_eq!(bpfld::kernel_target::accepts_qmark_datasec(), (v[0], v[1]) >= (6, 9), "kernel {release}");
}
