use super::*;

#[test]
fn hls_paths_name_playlists_and_segments() {
    let playlist = |c: &str| Some(HlsRequest::Playlist { channel: c.into() });
    assert_eq!(route("/live/abc.m3u8"), playlist("live/abc"));
    assert_eq!(route("/1.m3u8"), playlist("1"));
    assert_eq!(
        route("/live/abc/17-42.ts"),
        Some(HlsRequest::Segment {
            channel: "live/abc".into(),
            run: 17,
            sequence: 42
        })
    );
    assert_eq!(route("/.m3u8"), None);
    assert_eq!(route("/../x.m3u8"), None);
    assert_eq!(route("/a//b.m3u8"), None);
    assert_eq!(route("/42.ts"), None, "a segment names its channel");
    assert_eq!(route("/live/x-y.ts"), None);
    assert_eq!(route("/live/abc.flv"), None);
}

#[test]
fn cmaf_paths_name_segments_parts_and_init_segments() {
    let channel = || "live/abc".to_string();
    assert_eq!(
        route("/live/abc/17-42.m4s"),
        Some(HlsRequest::CmafSegment {
            channel: channel(),
            run: 17,
            sequence: 42
        })
    );
    assert_eq!(
        route("/live/abc/17-42.3.m4s"),
        Some(HlsRequest::Part {
            channel: channel(),
            run: 17,
            sequence: 42,
            index: 3
        })
    );
    assert_eq!(
        route("/live/abc/17-init-2.mp4"),
        Some(HlsRequest::Init {
            channel: channel(),
            run: 17,
            id: 2
        })
    );
    assert_eq!(route("/live/abc/17-+4.m4s"), None);
    assert_eq!(route("/live/abc/17-4.-1.m4s"), None);
    assert_eq!(route("/live/abc/17-init-x.mp4"), None);
    assert_eq!(route("/live/abc/17-4.mp4"), None);
    assert_eq!(route("/live/abc/17-99999999999999999999999.m4s"), None);
}
