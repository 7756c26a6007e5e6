use super::*;
use crate::media::codec::*;
use crate::media::test_support::*;

fn params(sample_rate: u32, channels: u8) -> AudioParams {
    AudioParams {
        sample_rate,
        channels,
    }
}

#[test]
fn audio_specific_configs_give_rate_and_channels() {
    let cases = [
        ("12 10", params(44100, 2)),          // AAC-LC 44.1 kHz stereo
        ("11 90", params(48000, 2)),          // AAC-LC 48 kHz stereo
        ("13 88", params(22050, 1)),          // AAC-LC 22.05 kHz mono
        ("12 10 56 e5 00", params(44100, 2)), // ffmpeg's, with an implicit-SBR sync extension
        ("11 b0", params(48000, 6)),          // 5.1
        ("11 b8", params(48000, 8)),          // configuration 7 is 7.1
        ("2b 92 08 00", params(44100, 2)),    // HE-AAC: SBR over 22.05 kHz core
        ("eb 09 88 00", params(48000, 2)),    // HE-AAC v2: PS makes the mono core stereo
        ("f9 46 40", params(48000, 2)),       // object type 31 + 10 = 42 (USAC), escaped
    ];
    for (asc, expected) in cases {
        assert_eq!(
            parse_audio_specific_config(&hex(asc)),
            Ok(expected),
            "{asc}"
        );
    }
}

#[test]
fn an_explicit_24_bit_sample_rate_is_read() {
    let mut w = BitWriter::default();
    w.put(5, 2).put(4, 15).put(24, 37_800).put(4, 1);
    assert_eq!(parse_audio_specific_config(&w.bytes), Ok(params(37_800, 1)));
}

#[test]
fn channel_configuration_0_counts_the_program_config_element() {
    let mut w = BitWriter::default();
    w.put(5, 2).put(4, 3).put(4, 0); // AAC-LC, 48 kHz, layout in the PCE
    w.put(1, 0).put(1, 0).put(1, 0); // GASpecificConfig
    w.put(4, 0).put(2, 1).put(4, 3); // PCE tag, object, frequency
    w.put(4, 2).put(4, 0).put(4, 1).put(2, 1); // 2 front, 0 side, 1 back, 1 LFE
    w.put(3, 0)
        .put(4, 0)
        .put(1, 0)
        .put(1, 0)
        .put(1, 1)
        .put(3, 0); // matrix mixdown present
    w.put(1, 0).put(4, 0).put(1, 1).put(4, 1); // front: mono + pair
    w.put(1, 1).put(4, 2); // back: pair
    w.put(4, 0); // LFE
    assert_eq!(parse_audio_specific_config(&w.bytes), Ok(params(48000, 6)));
    // Cut inside the PCE.
    assert_eq!(
        parse_audio_specific_config(&w.bytes[..5]),
        Err(CodecError::Truncated("AudioSpecificConfig"))
    );
}

#[test]
fn bad_or_short_audio_specific_configs_are_errors() {
    assert_eq!(
        parse_audio_specific_config(&[]),
        Err(CodecError::Truncated("AudioSpecificConfig"))
    );
    assert_eq!(
        parse_audio_specific_config(&[0x12]),
        Err(CodecError::Truncated("AudioSpecificConfig"))
    );
    assert_eq!(
        parse_audio_specific_config(&[0xF8]), // escaped object type, cut
        Err(CodecError::Truncated("AudioSpecificConfig"))
    );
    // Frequency index 13 is reserved.
    assert!(matches!(
        parse_audio_specific_config(&hex("16 90")),
        Err(CodecError::Invalid(_))
    ));
    // Channel configuration 15 is reserved.
    assert!(matches!(
        parse_audio_specific_config(&hex("12 78")),
        Err(CodecError::Invalid(_))
    ));
}

#[test]
fn audio_params_come_from_the_asc_for_aac_and_the_header_bits_otherwise() {
    assert_eq!(audio_params(&hex("af 00 12 10")), Some(params(44100, 2)));
    assert_eq!(
        audio_params(&hex("af 00 11 90 56 e5 00")),
        Some(params(48000, 2))
    );
    assert_eq!(audio_params(&hex("af 01 21 1a")), None); // raw AAC frame
    assert_eq!(audio_params(&hex("af 00")), None);
    assert_eq!(audio_params(&hex("af")), None);
    assert_eq!(audio_params(&[]), None);
    assert_eq!(audio_params(&[0x2F, 0xFF]), Some(params(44100, 2))); // MP3 stereo
    assert_eq!(audio_params(&[0x2E, 0xFF]), Some(params(44100, 1))); // ffmpeg's mono MP3
    assert_eq!(audio_params(&[0x6A]), Some(params(22050, 1))); // Nellymoser
    assert_eq!(audio_params(&[0x52]), Some(params(8000, 1))); // Nellymoser 8 kHz
    assert_eq!(audio_params(&[0x42]), Some(params(16000, 1))); // Nellymoser 16 kHz
    assert_eq!(audio_params(&[0xE2]), Some(params(8000, 1))); // MP3 8 kHz
    assert_eq!(audio_params(&[0x72]), Some(params(8000, 1))); // G.711 A-law
    assert_eq!(audio_params(&[0xB2]), Some(params(16000, 1))); // Speex
    assert_eq!(audio_params(&[0x03]), Some(params(5512, 2))); // PCM
    assert_eq!(audio_params(&[0xC0]), None); // reserved format 12
}

#[test]
fn enhanced_audio_opus_and_mp4a_sequence_starts_give_params() {
    let opus_head = [
        &b"OpusHead"[..],
        &[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0],
    ]
    .concat();
    let opus = [&[0x90][..], b"Opus", &opus_head].concat();
    assert_eq!(audio_codec(&opus), Some(AudioCodec::Opus));
    assert!(audio_is_sequence_header(&opus));
    assert_eq!(audio_params(&opus), Some(params(48000, 2)));
    let frame = [&[0x91][..], b"Opus", &[0xFC]].concat();
    assert!(!audio_is_sequence_header(&frame));
    assert_eq!(audio_params(&frame), None);

    let mp4a = [&[0x90][..], b"mp4a", &[0x11, 0x90]].concat();
    assert_eq!(audio_codec(&mp4a), Some(AudioCodec::Aac));
    assert_eq!(audio_params(&mp4a), Some(params(48000, 2)));
    // Multitrack (5), one track, SequenceStart, 'Opus', track 0.
    let multi = [&[0x95, 0x00][..], b"Opus", &[0], &opus_head].concat();
    assert!(audio_is_sequence_header(&multi));
    assert_eq!(audio_params(&multi), Some(params(48000, 2)));
    // Unknown FourCC.
    let flac = [&[0x90][..], b"fLaC"].concat();
    assert_eq!(audio_codec(&flac), Some(AudioCodec::Other(9)));
    assert_eq!(audio_codec(&[0x90, b'O']), None);
}

#[test]
fn an_explicit_sample_rate_of_zero_is_refused_so_stats_never_show_0_hz() {
    // Found by the codec_headers fuzz target: object type 21, escape index 15, a rate of 0, and
    // channel configuration 0 with an empty program config element gave 0 Hz and 0 channels.
    let mut body = vec![0xAF, 0x00, 0xAF, 0x80];
    body.resize(120, 0);
    assert_eq!(audio_params(&body), None);
    assert!(parse_audio_specific_config(&body[2..]).is_err());
}
