//! Typed maps on the real kernel: every map type written from user space,
//! read back, and (through a syscall program) seen by BPF code; per-CPU
//! values one per possible CPU; batch operations; a key walk that survives
//! deletes; maps and programs taken out of their object into other
//! threads.

mod common;

use std::net::{TcpListener, TcpStream};

use bpfld::typed_maps::*;
use bpfld::{LoadedObject, MapHandle};
use bpfld_testdata::require_kernel;
use bytemuck::{Pod, Zeroable};
use common::*;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
struct Pair {
    a: u32,
    b: u32,
}

fn obj() -> LoadedObject {
    load("typed_maps")
}

/// Runs the XDP program that reads the maps into its globals.
fn probe(obj: &LoadedObject) {
    let pkt = packet();
    let opts = bpfld::TestRunOpts { data_in: &pkt, ..Default::default() };
    obj.program("probe_maps").unwrap().test_run(&opts).unwrap();
}

fn cpus() -> usize {
    bpfld_sys::possible_cpus().unwrap()
}

#[test]
fn hash_insert_get_remove_iterate_and_seen_by_a_program() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let m: HashMap<u32, Pair> = obj.take_map("hash").unwrap().try_into().unwrap();
    for k in 0..10u32 {
        m.insert(&k, &Pair { a: k, b: k * 100 }).unwrap();
    }
    assert_eq!(m.get(&7).unwrap(), Some(Pair { a: 7, b: 700 }));
    assert_eq!(m.get(&70).unwrap(), None);
    assert!(m.insert_with_flags(&7, &Pair { a: 0, b: 0 }, BPF_NOEXIST).is_err());
    assert!(m.remove(&3).unwrap());
    assert!(!m.remove(&3).unwrap());
    let mut all: Vec<(u32, Pair)> = m.iter().map(Result::unwrap).collect();
    all.sort_by_key(|e| e.0);
    assert_eq!(all.len(), 9);
    assert!(all.iter().all(|(k, v)| v.a == *k && v.b == k * 100 && *k != 3));
    probe(&obj);
    assert_eq!(obj.read_global_u64("seen_hash_b").unwrap(), 700);
    // A wrong Rust type is refused, naming the sizes.
    let e = HashMap::<u64, Pair>::try_from(obj.take_map("hash").unwrap()).unwrap_err().to_string();
    assert!(e.contains("4-byte keys") && e.contains("has 8"), "{e}");
    let e = Array::<u64>::try_from(obj.take_map("hash").unwrap()).unwrap_err().to_string();
    assert!(e.contains("is a HASH map, not ARRAY"), "{e}");
}

#[test]
fn lru_hash_evicts_and_array_reads_back() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let lru: LruHashMap<u64, u64> = obj.take_map("lru").unwrap().try_into().unwrap();
    for k in 0..1000u64 {
        lru.insert(&k, &(k * 2)).unwrap();
    }
    let kept: Vec<(u64, u64)> = lru.iter().map(Result::unwrap).collect();
    assert!(!kept.is_empty() && kept.len() <= 64 + cpus() * 8, "{} entries in a 64-entry LRU", kept.len());
    assert!(kept.iter().all(|(k, v)| *v == k * 2));
    assert_eq!(lru.get(&999).unwrap(), Some(1998), "the newest survives");

    let arr: Array<u64> = obj.take_map("array").unwrap().try_into().unwrap();
    assert_eq!(arr.len(), 8);
    for i in 0..8 {
        arr.set(i, &(u64::from(i) << 40)).unwrap();
    }
    assert_eq!(arr.get(5).unwrap(), 5 << 40);
    assert_eq!(arr.iter().map(Result::unwrap).collect::<Vec<_>>(), (0..8u64).map(|i| i << 40).collect::<Vec<_>>());
    assert!(arr.get(8).is_err());
    let batch = arr.get_batch(3).unwrap();
    assert_eq!(batch.len(), 8);
    assert_eq!(batch[6], (6, 6 << 40));
}

#[test]
fn per_cpu_maps_hold_one_value_per_possible_cpu() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let n = cpus();
    let h: PerCpuHashMap<u32, u32> = obj.take_map("percpu_hash").unwrap().try_into().unwrap();
    let vals: Vec<u32> = (0..n as u32).map(|c| 1000 + c).collect();
    h.insert(&5, &vals).unwrap();
    assert_eq!(h.get(&5).unwrap(), Some(vals.clone()));
    assert!(h.insert(&6, &vals[..n - 1]).is_err(), "one value per possible CPU is required");
    let all: Vec<_> = h.iter().map(Result::unwrap).collect();
    assert_eq!(all, vec![(5, vals.clone())]);
    assert_eq!(h.get_batch(4).unwrap(), vec![(5, vals)]);

    let a: PerCpuArray<u64> = obj.take_map("percpu_array").unwrap().try_into().unwrap();
    let vals: Vec<u64> = (0..n as u64).map(|c| (c + 1) << 33).collect();
    a.set(2, &vals).unwrap();
    assert_eq!(a.get(2).unwrap(), vals);
    assert_eq!(a.get(1).unwrap(), vec![0; n]);
    assert_eq!(a.handle().value_size(), 8 * n);
}

#[test]
fn lpm_trie_finds_the_longest_prefix() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let t: LpmTrie<[u8; 4], u32> = obj.take_map("lpm").unwrap().try_into().unwrap();
    t.insert(8, &[10, 0, 0, 0], &8).unwrap();
    t.insert(16, &[10, 1, 0, 0], &16).unwrap();
    t.insert(24, &[10, 1, 2, 0], &24).unwrap();
    assert_eq!(t.get(32, &[10, 1, 2, 3]).unwrap(), Some(24));
    assert_eq!(t.get(32, &[10, 1, 9, 9]).unwrap(), Some(16));
    assert_eq!(t.get(32, &[10, 9, 9, 9]).unwrap(), Some(8));
    assert_eq!(t.get(32, &[11, 0, 0, 0]).unwrap(), None);
    let mut all: Vec<(u32, [u8; 4], u32)> = t.iter().map(Result::unwrap).collect();
    all.sort();
    assert_eq!(all, vec![(8, [10, 0, 0, 0], 8), (16, [10, 1, 0, 0], 16), (24, [10, 1, 2, 0], 24)]);
    probe(&obj);
    assert_eq!(obj.read_global_u64("seen_lpm").unwrap(), 24, "the program's lookup of 10.1.2.3");
    assert!(t.remove(24, &[10, 1, 2, 0]).unwrap());
    assert_eq!(t.get(32, &[10, 1, 2, 3]).unwrap(), Some(16));
}

#[test]
fn queue_stack_and_bloom_filter() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let q: Queue<u32> = obj.take_map("queue").unwrap().try_into().unwrap();
    let s: Stack<u32> = obj.take_map("stack").unwrap().try_into().unwrap();
    for v in [11, 22, 33] {
        q.push(&v, 0).unwrap();
        s.push(&v, 0).unwrap();
    }
    assert_eq!(q.peek().unwrap(), Some(11));
    assert_eq!(s.peek().unwrap(), Some(33));
    assert_eq!(q.pop().unwrap(), Some(11));
    assert_eq!(s.pop().unwrap(), Some(33));
    probe(&obj); // pops 22 from the queue
    assert_eq!(obj.read_global_u64("seen_queue").unwrap(), 22);
    assert_eq!(q.pop().unwrap(), Some(33));
    assert_eq!(q.pop().unwrap(), None);
    assert_eq!((s.pop().unwrap(), s.pop().unwrap(), s.pop().unwrap()), (Some(22), Some(11), None));
    for v in 0..8 {
        q.push(&v, 0).unwrap();
    }
    assert_eq!(q.push(&8, 0).unwrap_err().errno(), Some(libc::E2BIG), "full queue");
    q.push(&8, BPF_EXIST).unwrap();
    assert_eq!(q.pop().unwrap(), Some(1), "BPF_EXIST pushed out the oldest");

    let b: BloomFilter<u32> = obj.take_map("bloom").unwrap().try_into().unwrap();
    assert!(!b.contains(&42).unwrap());
    b.insert(&42).unwrap();
    assert!(b.contains(&42).unwrap());
    probe(&obj);
    assert_eq!(obj.read_global_u64("seen_bloom").unwrap(), 1);
}

#[test]
fn map_in_map_and_prog_array_updates_by_fd() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let outer: MapOfMaps<u32> = obj.take_map("outer").unwrap().try_into().unwrap();
    let inner_b: Array<u64> = obj.take_map("inner_b").unwrap().try_into().unwrap();
    inner_b.set(0, &0xabcdef).unwrap();
    outer.set(&1, &inner_b).unwrap();
    let id = inner_b.handle().info().id;
    assert_eq!(outer.get(&1).unwrap(), Some(id));
    assert_eq!(outer.get(&0).unwrap(), None);
    let outer_hash: MapOfMaps<u32> = obj.take_map("outer_hash").unwrap().try_into().unwrap();
    outer_hash.set(&3, &inner_b).unwrap();
    assert_eq!(outer_hash.get(&3).unwrap(), Some(id));

    let jump: ProgArray = obj.take_map("jump").unwrap().try_into().unwrap();
    let target = obj.take_program("tail_target").unwrap();
    jump.set(0, std::os::fd::AsFd::as_fd(&target)).unwrap();
    assert_eq!(jump.get(0).unwrap(), Some(target.info().unwrap().id));
    probe(&obj);
    assert_eq!(obj.read_global_u64("seen_inner").unwrap(), 0xabcdef, "the program read through outer[1]");
    assert_eq!(obj.read_global_u64("seen_tail").unwrap(), 77, "the tail call reached the program set by fd");
    assert!(jump.remove(0).unwrap());
    assert!(outer.remove(&1).unwrap());
}

#[test]
fn sockmap_and_sockhash_take_sockets_and_give_cookies() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    let m: SockMap<u32> = obj.take_map("socks").unwrap().try_into().unwrap();
    m.set(&0, &c).unwrap();
    m.set(&1, &s).unwrap();
    let (c0, c1) = (m.get(&0).unwrap().unwrap(), m.get(&1).unwrap().unwrap());
    assert!(c0 != 0 && c1 != 0 && c0 != c1, "cookies {c0} {c1}");
    let h: SockHash<u32> = obj.take_map("sockhash").unwrap().try_into().unwrap();
    h.set(&99, &c).unwrap();
    assert_eq!(h.get(&99).unwrap(), Some(c0), "same socket, same cookie");
    assert!(m.remove(&0).unwrap());
    assert_eq!(m.get(&0).unwrap(), None);
}

#[test]
fn batch_update_lookup_and_delete() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let m: HashMap<u32, Pair> = obj.take_map("hash").unwrap().try_into().unwrap();
    let keys: Vec<u32> = (0..1000).collect();
    let vals: Vec<Pair> = keys.iter().map(|&k| Pair { a: k, b: !k }).collect();
    assert_eq!(m.insert_batch(&keys, &vals).unwrap(), 1000);
    let mut got = m.get_batch(64).unwrap();
    got.sort_by_key(|e| e.0);
    assert_eq!(got.len(), 1000);
    assert!(got.iter().all(|(k, v)| *v == Pair { a: *k, b: !*k }));
    assert_eq!(m.remove_batch(&keys[..600]).unwrap(), 600);
    let mut drained = m.drain_batch(7).unwrap();
    drained.sort_by_key(|e| e.0);
    assert_eq!(drained.iter().map(|e| e.0).collect::<Vec<_>>(), (600..1000).collect::<Vec<_>>());
    assert_eq!(m.keys().count(), 0, "drained");
}

#[test]
fn key_walk_survives_deletes_while_it_runs() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let m: HashMap<u32, Pair> = obj.take_map("hash").unwrap().try_into().unwrap();
    for k in 0..2000u32 {
        m.insert(&k, &Pair { a: k, b: 0 }).unwrap();
    }
    // Delete each key right after it is returned (the kernel then loses
    // its place and starts again from the first key) and, every 10 keys,
    // one more key ahead: each surviving key is returned exactly once.
    let other = m.handle().try_clone().unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut deleted_ahead = std::collections::HashSet::new();
    for (i, k) in m.keys().enumerate() {
        let k = k.unwrap();
        assert!(seen.insert(k), "key {k} returned twice");
        assert!(!deleted_ahead.contains(&k), "deleted key {k} returned");
        assert!(other.delete(&k.to_ne_bytes()).unwrap());
        if i % 10 == 0 {
            let ahead = (0..2000u32).find(|x| !seen.contains(x) && !deleted_ahead.contains(x));
            if let Some(a) = ahead {
                other.delete(&a.to_ne_bytes()).unwrap();
                deleted_ahead.insert(a);
            }
        }
    }
    assert_eq!(seen.len() + deleted_ahead.len(), 2000, "every key returned or deleted ahead");

    // And against another thread deleting at random while we walk.
    for k in 0..2000u32 {
        m.insert(&k, &Pair { a: k, b: 0 }).unwrap();
    }
    let deleter = std::thread::spawn(move || {
        for k in (0..2000u32).step_by(3) {
            other.delete(&k.to_ne_bytes()).unwrap();
        }
    });
    let mut walked = std::collections::HashSet::new();
    for k in m.keys() {
        assert!(walked.insert(k.unwrap()), "a key returned twice");
    }
    deleter.join().unwrap();
    assert!((0..2000u32).filter(|k| k % 3 != 0).all(|k| walked.contains(&k)), "a key never deleted was missed");
}

#[test]
fn maps_and_programs_taken_out_live_in_other_threads() {
    if !require_kernel() {
        return;
    }
    let obj = obj();
    let arr: Array<u64> = obj.take_map("array").unwrap().try_into().unwrap();
    let prog = obj.take_program("tail_target").unwrap();
    let raw: MapHandle = obj.take_map("hash").unwrap();
    drop(obj); // the handles own their fds
    let t = std::thread::spawn(move || {
        arr.set(3, &33).unwrap();
        let pkt = packet();
        prog.test_run(&bpfld::TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap();
        raw.update(&1u32.to_ne_bytes(), &[1, 0, 0, 0, 2, 0, 0, 0], 0).unwrap();
        (arr.get(3).unwrap(), raw.lookup(&1u32.to_ne_bytes()).unwrap())
    });
    assert_eq!(t.join().unwrap(), (33, Some(vec![1, 0, 0, 0, 2, 0, 0, 0])));
}

#[test]
fn keys_and_values_decode_with_the_maps_btf() {
    if !require_kernel() {
        return;
    }
    use bpfld::map_dump::{MapBtf, Value};
    let obj = obj();
    let h = obj.take_map("decoded").unwrap();
    // struct shapes { int neg; enum color color; char name[8];
    //   unsigned low:3, high:5; int sbits:4; _Bool flag; __u16 arr[2]; }
    let mut v = vec![0u8; h.value_size()];
    v[0..4].copy_from_slice(&(-7i32).to_ne_bytes());
    v[4..8].copy_from_slice(&2u32.to_ne_bytes());
    v[8..11].copy_from_slice(b"abc");
    // low = 5, high = 17, sbits = -3 (0b1101) in the next 32-bit unit.
    let bits: u32 = 5 | (17 << 3) | (0b1101 << 8);
    v[16..20].copy_from_slice(&bits.to_ne_bytes());
    let flag_off = v.len() - 6;
    v[flag_off] = 1;
    v[flag_off + 2..flag_off + 4].copy_from_slice(&300u16.to_ne_bytes());
    v[flag_off + 4..flag_off + 6].copy_from_slice(&9u16.to_ne_bytes());
    h.update(&1u32.to_ne_bytes(), &v, 0).unwrap();
    let btf = MapBtf::of(&h).unwrap().expect("the map has BTF");
    let (k, val) = h.entries().next().unwrap().unwrap();
    assert_eq!(btf.key(&k), Some(Value::Int(1)));
    let json = btf.value(&val).to_json();
    assert_eq!(json, r#"{"neg":-7,"color":"GREEN","name":"abc","low":5,"high":17,"sbits":-3,"flag":true,"arr":[300,9]}"#);
    let text = btf.value(&val).to_string();
    assert!(text.starts_with("{ .neg = -7, .color = GREEN, .name = \"abc\", .low = 5"), "{text}");
}
