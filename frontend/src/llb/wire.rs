//! Writing protobuf fields straight into a byte buffer, laid out as prost and Go's
//! deterministic marshal lay them out: the op encoders (exec, file) and the Definition writer
//! use these instead of building prost messages with owned strings and encoding them.
//!
//! The rules of proto3 that the helpers keep: a singular scalar or string at its default (0,
//! false, empty) is left out; an element of a repeated field and a set message field are
//! always written (an empty string or message too); a member of a `oneof` is always written.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

/// A length-delimited field whose payload `body` writes, always written (a set message field,
/// a map entry, an element of a repeated field).
pub(crate) fn message(buf: &mut Vec<u8>, tag: u32, body: impl FnOnce(&mut Vec<u8>)) {
    // One byte for the length, which fits most payloads.
    message_sized(buf, tag, 0, body);
}

/// [`message`] with room for the length of a payload of about `guess` bytes; returns the
/// payload's length. The payload is written once, after the room, and moved only when its
/// length needs another number of bytes than the guess.
pub(crate) fn message_sized(buf: &mut Vec<u8>, tag: u32, guess: usize, body: impl FnOnce(&mut Vec<u8>)) -> usize {
    encode_key(tag, WireType::LengthDelimited, buf);
    let at = buf.len();
    let room = encoded_len_varint(guess as u64);
    buf.resize(at + room, 0);
    body(buf);
    let end = buf.len();
    let len = end - at - room;
    let n = encoded_len_varint(len as u64);
    if n > room {
        buf.resize(end + n - room, 0);
        buf.copy_within(at + room..end, at + n);
    } else if n < room {
        buf.copy_within(at + room..end, at + n);
        buf.truncate(end - (room - n));
    }
    let mut prefix = [0u8; 10];
    let mut slot = &mut prefix[..];
    encode_varint(len as u64, &mut slot);
    buf[at..at + n].copy_from_slice(&prefix[..n]);
    len
}

/// A message-valued map entry's value: left out when empty (at its default), as prost and Go
/// leave it out.
pub(crate) fn message_unless_empty(buf: &mut Vec<u8>, tag: u32, body: impl FnOnce(&mut Vec<u8>)) {
    message_sized_unless_empty(buf, tag, 0, body);
}

/// [`message_unless_empty`] with room for the length of about `guess` bytes (see
/// [`message_sized`]); returns the payload's length.
pub(crate) fn message_sized_unless_empty(
    buf: &mut Vec<u8>,
    tag: u32,
    guess: usize,
    body: impl FnOnce(&mut Vec<u8>),
) -> usize {
    let start = buf.len();
    let len = message_sized(buf, tag, guess, body);
    if len == 0 {
        buf.truncate(start);
    }
    len
}

/// A string or bytes field, left out when empty.
pub(crate) fn string(buf: &mut Vec<u8>, tag: u32, s: &[u8]) {
    if !s.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(s.len() as u64, buf);
        buf.extend_from_slice(s);
    }
}

/// An int32 or int64 field, left out when zero (negative values sign-extended, as protobuf
/// does).
pub(crate) fn int(buf: &mut Vec<u8>, tag: u32, v: i64) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v as u64, buf);
    }
}

/// A string or bytes field that is always written, even empty: an element of a repeated field,
/// or the member of a `oneof`.
pub(crate) fn string_always(buf: &mut Vec<u8>, tag: u32, s: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(s.len() as u64, buf);
    buf.extend_from_slice(s);
}

/// A repeated string field: every element, empty ones too.
pub(crate) fn strings<S: AsRef<str>>(buf: &mut Vec<u8>, tag: u32, items: &[S]) {
    for s in items {
        string_always(buf, tag, s.as_ref().as_bytes());
    }
}

/// A uint32 field, left out when zero.
pub(crate) fn uint(buf: &mut Vec<u8>, tag: u32, v: u32) {
    int(buf, tag, i64::from(v));
}

/// A varint that is always written, even zero: the scalar member of a `oneof`.
pub(crate) fn varint_always(buf: &mut Vec<u8>, tag: u32, v: u64) {
    encode_key(tag, WireType::Varint, buf);
    encode_varint(v, buf);
}

/// A bool field, left out when false.
pub(crate) fn boolean(buf: &mut Vec<u8>, tag: u32, v: bool) {
    if v {
        varint_always(buf, tag, 1);
    }
}
