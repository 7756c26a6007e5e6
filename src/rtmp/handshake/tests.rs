use super::*;

fn c0c1(version: u8) -> Vec<u8> {
    let mut v = vec![version];
    v.extend((0..HANDSHAKE_PACKET_LEN).map(|i| (i * 7) as u8));
    v
}

/// Deterministic fragment sizes in 1..=max.
fn fragments(seed: u64, data: &[u8], max: usize) -> Vec<Vec<u8>> {
    let mut rng = XorShift::new(seed);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + (rng.next() as usize) % max).min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

#[test]
fn server_answers_c0c1_with_s0_s1_with_zeros_and_s2_echoing_c1() {
    let mut server = ServerHandshake::from_parts(0x0102_0304, 42);
    let input = c0c1(3);
    let HandshakeOutcome::InProgress { response } = server.process(&input).unwrap() else {
        panic!("completed without C2");
    };
    assert_eq!(response.len(), 1 + 2 * HANDSHAKE_PACKET_LEN);
    assert_eq!(response[0], RTMP_VERSION);
    assert_eq!(&response[1..5], &[1, 2, 3, 4]);
    assert_eq!(&response[5..9], &[0, 0, 0, 0]);
    assert!(response[9..1 + HANDSHAKE_PACKET_LEN]
        .iter()
        .any(|&b| b != 0));
    assert_eq!(&response[1 + HANDSHAKE_PACKET_LEN..], &input[1..]);
}

#[test]
fn server_completes_on_c2_and_keeps_the_bytes_after_it() {
    let mut server = ServerHandshake::new();
    server.process(&c0c1(3)).unwrap();
    let mut c2 = vec![0xAB; HANDSHAKE_PACKET_LEN];
    c2.extend_from_slice(b"first chunk");
    assert_eq!(
        server.process(&c2).unwrap(),
        HandshakeOutcome::Completed {
            response: vec![],
            remaining: b"first chunk".to_vec()
        }
    );
    assert_eq!(server.process(b"x"), Err(HandshakeError::AlreadyCompleted));
}

#[test]
fn server_accepts_everything_in_one_read() {
    let mut server = ServerHandshake::new();
    let mut all = c0c1(3);
    all.extend_from_slice(&[0; HANDSHAKE_PACKET_LEN]);
    all.extend_from_slice(&[9, 9]);
    let HandshakeOutcome::Completed {
        response,
        remaining,
    } = server.process(&all).unwrap()
    else {
        panic!("not completed");
    };
    assert_eq!(response.len(), 1 + 2 * HANDSHAKE_PACKET_LEN);
    assert_eq!(remaining, vec![9, 9]);
}

#[test]
fn server_works_one_byte_at_a_time() {
    let mut server = ServerHandshake::new();
    let mut all = c0c1(3);
    all.extend_from_slice(&[0; HANDSHAKE_PACKET_LEN]);
    let mut sent = Vec::new();
    for (i, b) in all.iter().enumerate() {
        match server.process(&[*b]).unwrap() {
            HandshakeOutcome::InProgress { response } => sent.extend(response),
            HandshakeOutcome::Completed {
                response,
                remaining,
            } => {
                assert_eq!(i, all.len() - 1);
                assert!(remaining.is_empty());
                sent.extend(response);
            }
        }
    }
    assert_eq!(sent.len(), 1 + 2 * HANDSHAKE_PACKET_LEN);
}

#[test]
fn server_treats_rtmpe_version_as_plain() {
    let mut server = ServerHandshake::new();
    let HandshakeOutcome::InProgress { response } = server.process(&c0c1(6)).unwrap() else {
        panic!()
    };
    assert_eq!(response[0], RTMP_VERSION);
}

#[test]
fn server_rejects_a_bad_version_on_its_first_byte() {
    let mut server = ServerHandshake::new();
    assert_eq!(server.process(b"G"), Err(HandshakeError::BadVersion(b'G')));
}

#[test]
fn client_rejects_a_bad_server_version() {
    let (mut client, _) = ClientHandshake::new();
    assert_eq!(
        client.process(&[4, 0, 0]),
        Err(HandshakeError::BadVersion(4))
    );
}

#[test]
fn client_sends_c0_c1_with_zero_version_field() {
    let (_, c0c1) = ClientHandshake::from_parts(7, 1);
    assert_eq!(c0c1.len(), 1 + HANDSHAKE_PACKET_LEN);
    assert_eq!(c0c1[0], RTMP_VERSION);
    assert_eq!(&c0c1[1..9], &[0, 0, 0, 7, 0, 0, 0, 0]);
}

#[test]
fn client_and_server_complete_each_other_under_random_fragmentation() {
    for seed in 1..40u64 {
        let max = [1, 2, 7, 100, 1537, 5000][(seed % 6) as usize];
        let mut server = ServerHandshake::new();
        let (mut client, c0c1) = ClientHandshake::new();

        // Client -> server: C0C1.
        let mut to_client = Vec::new();
        for frag in fragments(seed, &c0c1, max) {
            match server.process(&frag).unwrap() {
                HandshakeOutcome::InProgress { response } => to_client.extend(response),
                HandshakeOutcome::Completed { .. } => panic!("server completed early"),
            }
        }
        assert_eq!(&to_client[1 + HANDSHAKE_PACKET_LEN..], &c0c1[1..]);

        // Server -> client: S0S1S2 plus the server's first chunk bytes.
        to_client.extend_from_slice(b"server-hello");
        let mut c2 = None;
        let mut client_leftover = Vec::new();
        for frag in fragments(seed + 100, &to_client, max) {
            if c2.is_some() {
                client_leftover.extend(frag);
                continue;
            }
            match client.process(&frag).unwrap() {
                HandshakeOutcome::InProgress { response } => assert!(response.is_empty()),
                HandshakeOutcome::Completed {
                    response,
                    remaining,
                } => {
                    c2 = Some(response);
                    client_leftover.extend(remaining);
                }
            }
        }
        assert_eq!(client_leftover, b"server-hello");
        let c2 = c2.expect("client completed");
        assert_eq!(&c2[..], &to_client[1..1 + HANDSHAKE_PACKET_LEN]);

        // Client -> server: C2 plus the client's first chunk bytes.
        let mut to_server = c2;
        to_server.extend_from_slice(b"connect...");
        let mut server_leftover = Vec::new();
        let mut done = false;
        for frag in fragments(seed + 200, &to_server, max) {
            if done {
                server_leftover.extend(frag);
                continue;
            }
            match server.process(&frag).unwrap() {
                HandshakeOutcome::InProgress { response } => assert!(response.is_empty()),
                HandshakeOutcome::Completed {
                    response,
                    remaining,
                } => {
                    assert!(response.is_empty());
                    server_leftover.extend(remaining);
                    done = true;
                }
            }
        }
        assert!(done);
        assert_eq!(server_leftover, b"connect...");
    }
}

#[test]
fn random_bytes_differ_between_handshakes() {
    let (_, a) = ClientHandshake::new();
    let (_, b) = ClientHandshake::new();
    assert_ne!(a[9..], b[9..]);
}
