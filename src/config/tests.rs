use super::*;

fn run(args: &[&str]) -> Result<Config, UsageError> {
    match parse_args(args.iter().map(|s| s.to_string()).collect())? {
        Command::Run(c) => Ok(*c),
        other => panic!("expected Run, got {other:?}"),
    }
}

#[test]
fn seed_command_line_parses_go_style() {
    let c = run(&["-httpapi=:8080", "-http=:8081", "-rtmp=:1935"]).unwrap();
    assert_eq!(c.httpapi, ListenAddr::AllInterfaces(8080));
    assert_eq!(c.http, ListenAddr::AllInterfaces(8081));
    assert_eq!(c.rtmp, ListenAddr::AllInterfaces(1935));
}

#[test]
fn the_api_listens_on_loopback_unless_told_otherwise() {
    assert_eq!(
        run(&[]).unwrap().httpapi,
        ListenAddr::Specific("127.0.0.1:8080".parse().unwrap())
    );
    assert_eq!(
        run(&["-httpapi=:8080"]).unwrap().httpapi,
        ListenAddr::AllInterfaces(8080)
    );
}

#[test]
fn the_api_token_comes_from_the_flag_or_the_environment_and_is_never_empty() {
    assert!(run(&["-apitoken="])
        .unwrap_err()
        .0
        .starts_with("flag -apitoken:"));
    let env = |v: &'static str| move |k: &str| (k == API_TOKEN_ENV).then(|| v.to_string());
    let mut c = run(&[]).unwrap();
    c.apply_env(env("from-env")).unwrap();
    assert_eq!(c.api_token.as_deref(), Some("from-env"));
    let mut c = run(&["-apitoken=flag"]).unwrap();
    c.apply_env(env("from-env")).unwrap();
    assert_eq!(c.api_token.as_deref(), Some("flag"));
    let mut c = run(&[]).unwrap();
    assert!(c.apply_env(env("")).is_err());
    let mut c = run(&[]).unwrap();
    c.apply_env(|_| None).unwrap();
    assert_eq!(c.api_token, None);
}

#[test]
fn cors_origins_are_a_comma_separated_list() {
    assert!(run(&[]).unwrap().api_cors.is_empty());
    let c = run(&["-apicors=https://a.example, http://b.example:8000/"]).unwrap();
    assert_eq!(c.api_cors, ["https://a.example", "http://b.example:8000"]);
}

#[test]
fn double_dash_and_space_separated_forms_work() {
    let c = run(&["--rtmp", "127.0.0.1:1999", "--http=127.0.0.1:0"]).unwrap();
    assert_eq!(
        c.rtmp,
        ListenAddr::Specific("127.0.0.1:1999".parse().unwrap())
    );
    assert_eq!(c.http, ListenAddr::Specific("127.0.0.1:0".parse().unwrap()));
}

#[test]
fn boolean_flag_accepts_bare_and_valued_forms() {
    assert!(run(&["-rtmpcheckparams"]).unwrap().rtmp_check_params);
    assert!(run(&["-rtmpcheckparams=true"]).unwrap().rtmp_check_params);
    assert!(!run(&["-rtmpcheckparams=false"]).unwrap().rtmp_check_params);
    assert!(!run(&[]).unwrap().rtmp_check_params);
    assert!(run(&[]).unwrap().watch_page);
    assert!(run(&["-watchpage"]).unwrap().watch_page);
    assert!(!run(&["-watchpage=false"]).unwrap().watch_page);
}

#[test]
fn unknown_flag_is_named_in_the_error() {
    let err = run(&["-rtmp=:1935", "-bogus=1"]).unwrap_err();
    assert_eq!(err.0, "unknown flag -bogus");
}

#[test]
fn bad_address_is_named_in_the_error() {
    let err = run(&["-rtmp=nonsense"]).unwrap_err();
    assert!(err.0.starts_with("flag -rtmp:"), "{}", err.0);
    assert!(run(&["-http=:99999"]).is_err());
}

#[test]
fn help_and_version_are_commands() {
    assert!(matches!(
        parse_args(vec!["-h".into()]).unwrap(),
        Command::Help
    ));
    assert!(matches!(
        parse_args(vec!["--version".into()]).unwrap(),
        Command::Version
    ));
    for (name, _, _) in FLAGS {
        assert!(usage().contains(name));
    }
}

#[test]
fn hls_variant_and_part_flags_are_read_and_checked() {
    let default = run(&[]).unwrap();
    assert_eq!(default.hls_variant, HlsVariant::Mpegts);
    assert_eq!(default.hls_part, Duration::from_millis(200));
    let ll = run(&["-hlsvariant=lowlatency", "-hlspart=250ms"]).unwrap();
    assert_eq!(ll.hls_variant, HlsVariant::LowLatency);
    assert_eq!(ll.hls_part, Duration::from_millis(250));
    assert_eq!(
        run(&["-hlsvariant=fmp4"]).unwrap().hls_variant,
        HlsVariant::Fmp4
    );
    assert!(run(&["-hlsvariant=dash"]).unwrap_err().0.contains("dash"));
    assert!(run(&["-hlspart=10ms"]).is_err());
    let err = run(&["-hlsvariant=lowlatency", "-hlsfragment=1s", "-hlspart=2s"]).unwrap_err();
    assert!(err.0.contains("-hlspart"), "{}", err.0);
}
