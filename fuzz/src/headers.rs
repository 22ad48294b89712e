//! `HeaderMap::parse` → `encode` → `parse`, and `status_of`.

use bytes::BytesMut;
use gnat_proto::{HeaderMap, status_of};

/// Checks one header block. When it parses: `status_of` reports the same status and
/// description; the encoding is `encoded_len` bytes long, parses back to an equal map
/// (status, description, entries in order) and is a fixed point of encode ∘ parse; and
/// `remove` and `insert` on it agree with a plain list of pairs.
pub fn check(block: &[u8]) {
    let peek = status_of(block);
    let Ok(map) = HeaderMap::parse(block) else {
        return;
    };
    let want_peek = map
        .status()
        .map(|s| (s, map.description().unwrap_or_default().as_bytes()));
    assert_eq!(peek, want_peek, "status_of disagrees with parse");

    let mut buf = BytesMut::new();
    map.encode(&mut buf);
    assert_eq!(
        buf.len(),
        map.encoded_len(),
        "encoded_len is not the encoded length"
    );
    assert_eq!(status_of(&buf), want_peek, "status_of of the encoding");
    let again = HeaderMap::parse(&buf).unwrap_or_else(|e| {
        panic!("encoding of a parsed map does not parse: {e:?}\nmap: {map:?}\nencoded: {buf:?}")
    });
    assert_eq!(
        again.status(),
        map.status(),
        "status lost in the round trip"
    );
    assert_eq!(
        again.description(),
        map.description(),
        "description changed"
    );
    assert!(
        again.iter().eq(map.iter()),
        "entries changed:\n{map:?}\n{again:?}"
    );
    assert_eq!(again, map);

    let mut twice = BytesMut::new();
    again.encode(&mut twice);
    assert_eq!(twice, buf, "encode ∘ parse is not a fixed point");

    mutations_agree_with_a_list(&map);
}

/// `remove` and `insert` on a parsed map do what they do to a plain list of pairs, and
/// anything parse accepted, `insert` accepts.
fn mutations_agree_with_a_list(map: &HeaderMap) {
    let list: Vec<(&str, &str)> = map.iter().collect();
    let Some(&(first, _)) = list.first() else {
        return;
    };
    let mut m = map.clone();
    let kept: Vec<(&str, &str)> = list.iter().copied().filter(|(n, _)| *n != first).collect();
    assert_eq!(m.remove(first), list.len() - kept.len(), "remove's count");
    assert!(
        m.iter().eq(kept.iter().copied()),
        "remove kept other entries"
    );
    assert_eq!(m.status(), map.status(), "remove changed the status");

    let Some(&(name, value)) = list.last() else {
        return;
    };
    m.insert(name, value)
        .unwrap_or_else(|e| panic!("parsed entry {name:?}: {value:?} refused by insert: {e:?}"));
    let mut want: Vec<(&str, &str)> = kept.into_iter().filter(|(n, _)| *n != name).collect();
    want.push((name, value));
    assert!(m.iter().eq(want.iter().copied()), "insert result:\n{m:?}");
    let mut buf = BytesMut::new();
    m.encode(&mut buf);
    assert_eq!(buf.len(), m.encoded_len(), "encoded_len after mutation");
    assert_eq!(
        HeaderMap::parse(&buf).ok().as_ref(),
        Some(&m),
        "mutated map round trip"
    );
}
