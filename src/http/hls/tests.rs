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
