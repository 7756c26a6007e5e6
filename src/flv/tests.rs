use super::*;

fn sample_tags() -> Vec<FlvTag> {
    vec![
        FlvTag {
            tag_type: 18,
            timestamp: 0,
            body: b"\x02\x00\x0aonMetaData\x05".to_vec(),
        },
        FlvTag {
            tag_type: 9,
            timestamp: 0,
            body: vec![0x17, 0, 0, 0, 0, 1, 2, 3],
        },
        FlvTag {
            tag_type: 8,
            timestamp: 23,
            body: vec![0xAF, 1, 9, 9],
        },
        FlvTag {
            tag_type: 9,
            timestamp: 0x0123_4567, // needs the extended byte
            body: vec![],
        },
        FlvTag {
            tag_type: 8,
            timestamp: u32::MAX,
            body: vec![0x2F; 300],
        },
    ]
}

fn sample_file() -> Vec<u8> {
    let mut out = file_header(true, true).to_vec();
    for tag in sample_tags() {
        write_tag(tag.tag_type, tag.timestamp, &tag.body, &mut out);
    }
    out
}

fn read_all(reader: &mut FlvReader) -> Vec<FlvTag> {
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag().unwrap() {
        tags.push(tag);
    }
    tags
}

#[test]
fn headers_have_the_documented_layout() {
    assert_eq!(
        file_header(true, false),
        [b'F', b'L', b'V', 1, 4, 0, 0, 0, 9, 0, 0, 0, 0]
    );
    assert_eq!(file_header(false, true)[4], 1);
    assert_eq!(
        tag_header(9, 0x0A0B_0C0D, 0x01_0203).unwrap(),
        [9, 0x01, 0x02, 0x03, 0x0B, 0x0C, 0x0D, 0x0A, 0, 0, 0]
    );
    assert_eq!(previous_tag_size(5), [0, 0, 0, 16]);
}

#[test]
fn written_tags_read_back_the_same_including_extended_timestamps() {
    let mut reader = FlvReader::new().strict();
    assert_eq!(reader.header(), None);
    reader.feed(&sample_file());
    assert_eq!(read_all(&mut reader), sample_tags());
    assert_eq!(
        reader.header(),
        Some(&FlvFileHeader {
            has_audio: true,
            has_video: true
        })
    );
}

#[test]
fn bytes_fed_one_at_a_time_give_the_same_tags() {
    let mut reader = FlvReader::new().strict();
    let mut tags = Vec::new();
    for &b in &sample_file() {
        reader.feed(&[b]);
        tags.extend(read_all(&mut reader));
        assert!(reader.buf.len() <= TAG_HEADER_LEN + 300 + BACK_POINTER_LEN);
    }
    assert_eq!(tags, sample_tags());
}

#[test]
fn a_tag_is_returned_before_its_back_pointer_arrives() {
    let mut bytes = file_header(false, true).to_vec();
    write_tag(9, 40, &[0x27, 1], &mut bytes);
    let mut reader = FlvReader::new();
    reader.feed(&bytes[..bytes.len() - BACK_POINTER_LEN]);
    assert_eq!(reader.next_tag().unwrap().unwrap().timestamp, 40);
    assert_eq!(reader.next_tag(), Ok(None));
}

#[test]
fn truncated_input_asks_for_more_bytes() {
    let file = sample_file();
    for cut in 0..FILE_HEADER_LEN + TAG_HEADER_LEN + 5 {
        let mut reader = FlvReader::new();
        reader.feed(&file[..cut]);
        assert_eq!(reader.next_tag(), Ok(None), "cut at {cut}");
    }
}

#[test]
fn an_oversized_tag_is_refused_from_its_header_alone() {
    let mut bytes = file_header(true, true).to_vec();
    bytes.extend_from_slice(&tag_header(9, 0, 2000).unwrap());
    let mut reader = FlvReader::with_max_tag_len(1000);
    reader.feed(&bytes);
    assert_eq!(reader.next_tag(), Err(FlvError::TagTooLarge(2000)));
    // It stays refused.
    assert_eq!(reader.next_tag(), Err(FlvError::TagTooLarge(2000)));
}

#[test]
fn a_bad_signature_or_version_is_an_error() {
    let mut reader = FlvReader::new();
    reader.feed(b"GET / HTTP/1.1\r\n");
    assert_eq!(reader.next_tag(), Err(FlvError::BadSignature(*b"GET")));

    let mut header = file_header(true, true);
    header[3] = 2;
    let mut reader = FlvReader::new();
    reader.feed(&header);
    assert_eq!(reader.next_tag(), Err(FlvError::BadVersion(2)));

    let mut header = file_header(true, true);
    header[8] = 8;
    let mut reader = FlvReader::new();
    reader.feed(&header);
    assert_eq!(reader.next_tag(), Err(FlvError::BadHeaderSize(8)));
    assert!(!FlvError::BadHeaderSize(8).to_string().is_empty());
}

#[test]
fn wrong_back_pointers_are_ignored_unless_strict() {
    let mut bytes = sample_file();
    bytes[FILE_HEADER_LEN - 1] = 7; // PreviousTagSize0
    let mut lenient = FlvReader::new();
    lenient.feed(&bytes);
    assert_eq!(read_all(&mut lenient), sample_tags());

    let mut strict = FlvReader::new().strict();
    strict.feed(&bytes);
    assert_eq!(
        strict.next_tag(),
        Err(FlvError::BadPreviousTagSize {
            expected: 0,
            found: 7
        })
    );
}

#[test]
fn a_longer_header_is_skipped_using_its_data_offset() {
    let mut bytes = file_header(true, false).to_vec();
    bytes[8] = 12;
    bytes.splice(9..9, [0xEE, 0xEE, 0xEE]);
    write_tag(8, 1, &[0xAF, 0], &mut bytes);
    let mut reader = FlvReader::new();
    let mut tags = Vec::new();
    for chunk in bytes.chunks(2) {
        reader.feed(chunk);
        tags.extend(read_all(&mut reader));
    }
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].body, vec![0xAF, 0]);
}

#[test]
fn the_buffer_stays_compact_while_tags_are_pulled() {
    let mut reader = FlvReader::new();
    reader.feed(&file_header(false, true));
    assert_eq!(reader.next_tag(), Ok(None));
    let mut tag = Vec::new();
    write_tag(9, 0, &[0x27; 100], &mut tag);
    // Split each tag across two feeds so that a partial tag is always left behind.
    let (a, b) = tag.split_at(50);
    reader.feed(a);
    for _ in 0..1000 {
        reader.feed(b);
        reader.feed(a);
        assert_eq!(reader.next_tag().unwrap().map(|t| t.body.len()), Some(100));
        assert_eq!(reader.next_tag(), Ok(None));
    }
    assert!(
        reader.buf.capacity() < 4 * tag.len(),
        "{}",
        reader.buf.capacity()
    );
}

#[test]
fn an_aggregate_is_split_and_rebased_on_the_message_timestamp() {
    let mut payload = Vec::new();
    write_tag(9, 1000, &[0x17, 1], &mut payload);
    write_tag(8, 1010, &[0xAF, 1], &mut payload);
    write_tag(9, 1040, &[0x27, 1], &mut payload);
    let tags = split_aggregate(&payload, 5000).unwrap();
    let times: Vec<_> = tags.iter().map(|t| (t.tag_type, t.timestamp)).collect();
    assert_eq!(times, [(9, 5000), (8, 5010), (9, 5040)]);
    assert_eq!(tags[2].body, vec![0x27, 1]);

    // The final back pointer may be missing.
    let tags = split_aggregate(&payload[..payload.len() - 4], 0).unwrap();
    assert_eq!(tags.len(), 3);
    assert_eq!(split_aggregate(&[], 7), Ok(vec![]));
}

#[test]
fn aggregate_timestamps_wrap_around_2_pow_32() {
    let mut payload = Vec::new();
    write_tag(9, u32::MAX - 5, &[0x17], &mut payload);
    write_tag(9, 4, &[0x27], &mut payload); // 10 ms later, across the wrap
    let tags = split_aggregate(&payload, 100).unwrap();
    assert_eq!(tags[1].timestamp, 110);
}

#[test]
fn a_truncated_aggregate_is_an_error_at_every_cut_point() {
    let mut payload = Vec::new();
    write_tag(9, 0, &[0x17, 1, 2], &mut payload);
    write_tag(8, 0, &[0xAF, 1], &mut payload);
    let first_end = TAG_HEADER_LEN + 3;
    let ok_cuts = [first_end, first_end + 4, payload.len() - 4, payload.len()];
    for cut in 1..=payload.len() {
        let result = split_aggregate(&payload[..cut], 0);
        assert_eq!(result.is_ok(), ok_cuts.contains(&cut), "cut at {cut}");
        if let Err(e) = result {
            assert_eq!(e, FlvError::Truncated);
        }
    }
}

#[test]
fn a_tag_over_the_24_bit_size_is_never_written() {
    let body = vec![0u8; MAX_TAG_DATA_LEN + 1];
    let mut out = vec![1, 2, 3];
    assert!(!write_tag(9, 0, &body, &mut out));
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(tag_header(9, 0, MAX_TAG_DATA_LEN + 1), None);
    assert!(write_tag(9, 0, &body[..MAX_TAG_DATA_LEN], &mut out));
    assert_eq!(out.len(), 3 + TAG_HEADER_LEN + MAX_TAG_DATA_LEN + 4);
}
