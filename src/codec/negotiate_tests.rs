use super::*;
use crate::sdp::Session;

/// The codec model of a one-section SDP given as its media lines (`|`-separated).
fn section(lines: &str) -> MediaCodecs {
    let mut text =
        String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n");
    for l in lines.split('|') {
        text.push_str(l.trim());
        text.push_str("\r\n");
    }
    let s = Session::parse(&text).expect("test SDP parses");
    MediaCodecs::from_media(&s.media()[0])
        .expect("codecs")
        .expect("an RTP section")
}

fn pts(c: &[Codec]) -> Vec<u8> {
    c.iter().map(|c| c.payload_type).collect()
}

fn flags() -> CodecFlags {
    CodecFlags::default()
}

fn list(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Offers `offer` with `oflags`, answers with `answer` and `aflags`; returns both plans.
fn negotiate(
    offer_lines: &str,
    oflags: &CodecFlags,
    answer_lines: &str,
    aflags: &CodecFlags,
) -> (OfferPlan, AnswerPlan) {
    let plan = offer(&section(offer_lines), oflags).expect("offer");
    let rejected = answer_lines.starts_with("m=audio 0 ");
    let ans = answer(&plan, &section(answer_lines), rejected, aflags).expect("answer");
    (plan, ans)
}

#[test]
fn section_model() {
    let m = section(
        "m=audio 2000 RTP/AVP 0 96 101|a=rtpmap:96 opus/48000/2|a=fmtp:96 useinbandfec=1|\
         a=rtcp-fb:96 transport-cc|a=rtpmap:101 telephone-event/48000|a=ptime:20|a=maxptime:40",
    );
    assert_eq!(pts(&m.codecs), [0, 96, 101]);
    assert_eq!(
        m.codecs[0].encoding.as_deref(),
        Some("PCMU/8000"),
        "static rtpmap"
    );
    assert_eq!(m.codecs[1].fmtp.as_deref(), Some("useinbandfec=1"));
    assert_eq!(m.codecs[1].rtcp_fb, ["transport-cc"]);
    assert_eq!((m.ptime, m.maxptime), (Some(20), Some(40)));
    let s = Session::parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=image 2000 udptl t38\r\n").unwrap();
    assert_eq!(MediaCodecs::from_media(&s.media()[0]), Ok(None));
}

#[test]
fn unknown_fmtp_keeps_pcmu_fixture() {
    let (plan, ans) = negotiate(
        "m=audio 2000 RTP/AVP 0 8 101|a=rtpmap:0 PCMU/8000|a=fmtp:0 abc=no|a=rtpmap:8 PCMA/8000|\
         a=fmtp:8 abc=no|a=rtpmap:101 telephone-event/8000|a=fmtp:101 0-15",
        &flags(),
        "m=audio 2002 RTP/AVP 0 101|a=rtpmap:0 PCMU/8000|a=rtpmap:101 telephone-event/8000|\
         a=fmtp:101 0-15",
        &flags(),
    );
    assert_eq!(pts(&plan.out), [0, 8, 101]);
    assert_eq!(
        plan.out[0].fmtp.as_deref(),
        Some("abc=no"),
        "offer passes fmtp on"
    );
    assert_eq!(pts(&ans.out), [0, 101]);
    assert_eq!(ans.out[0].fmtp, None, "the answerer's codec lines");
    assert_eq!(ans.out[1].fmtp.as_deref(), Some("0-15"));
    assert!(ans.warnings.is_empty(), "{:?}", ans.warnings);
    assert!(ans.from_answerer.allows(0) && ans.from_answerer.allows(101));
    assert!(!ans.from_answerer.allows(8), "PCMA was not answered");
    assert!(ans.from_offerer.is_identity());
}

#[test]
fn gsm_with_unknown_fmtp_is_kept() {
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 3 101|a=rtpmap:3 GSM/8000|a=fmtp:3 this-is-unknown=no|\
         a=rtpmap:101 telephone-event/8000|a=fmtp:101 0-15",
        &flags(),
        "m=audio 2002 RTP/AVP 3 101|a=rtpmap:3 GSM/8000|a=rtpmap:101 telephone-event/8000",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [3, 101]);
}

/// Offer and answer m= lines (static payload types), answer expected: the plain cases of
/// rtpengine's test suite, including opposite-order offers and stray answer codecs.
#[test]
fn plain_negotiation_table() {
    let te = "|a=rtpmap:101 telephone-event/8000";
    let cases: &[(&str, &str, &[u8])] = &[
        ("0 8", "8", &[8]),
        ("0 8", "0", &[0]),
        ("8 0", "0 8", &[0, 8]),
        ("0 8", "8 0", &[8, 0]),
        ("0 8 101", "8 101", &[8, 101]),
        ("0 8 101", "8", &[8]),
        ("101 8 0", "101 8", &[101, 8]),
        ("0 9 8", "8 101", &[8]),
        ("0 8", "8 9", &[8]),
        ("0 8", "9 8 0", &[8, 0]),
    ];
    for (o, a, want) in cases {
        let (_, ans) = negotiate(
            &format!("m=audio 2000 RTP/AVP {o}{te}"),
            &flags(),
            &format!("m=audio 3000 RTP/AVP {a}{te}"),
            &flags(),
        );
        assert_eq!(pts(&ans.out), *want, "offer {o}, answer {a}");
        assert!(ans.warnings.is_empty(), "{o}/{a}: {:?}", ans.warnings);
    }
}

#[test]
fn dynamic_payload_types_are_renumbered_both_ways() {
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 96 0 101|a=rtpmap:96 opus/48000/2|a=fmtp:96 useinbandfec=1|\
         a=rtpmap:101 telephone-event/8000|a=fmtp:101 0-15",
        &flags(),
        "m=audio 3000 RTP/AVP 111 0 97|a=rtpmap:111 opus/48000/2|a=rtpmap:97 telephone-event/8000|\
         a=fmtp:97 0-16",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [96, 0, 101]);
    assert_eq!(ans.out[0].encoding.as_deref(), Some("opus/48000/2"));
    assert_eq!(
        ans.out[0].fmtp, None,
        "the answerer's fmtp, not the offerer's"
    );
    assert_eq!(ans.out[2].fmtp.as_deref(), Some("0-16"));
    // The answerer's numbers towards the offerer, and the other way round.
    assert_eq!(ans.from_answerer.target(111), 96);
    assert_eq!(ans.from_answerer.target(97), 101);
    assert_eq!(ans.from_offerer.target(96), 111);
    assert_eq!(ans.from_offerer.target(101), 97);
    assert_eq!(ans.from_offerer.target(0), 0);
    // An answerer that sends with the offer's numbers (RFC 3264) passes unchanged.
    assert!(ans.from_answerer.allows(96) && ans.from_answerer.target(96) == 96);
    assert!(ans.from_answerer.allows(101));
    assert!(!ans.from_offerer.allows(111), "the offerer's numbers only");
}

#[test]
fn swapped_numbers_map_each_codec_to_its_own() {
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 96 97|a=rtpmap:96 opus/48000/2|a=rtpmap:97 telephone-event/48000",
        &flags(),
        "m=audio 3000 RTP/AVP 97 96|a=rtpmap:97 opus/48000/2|a=rtpmap:96 telephone-event/48000",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [96, 97]);
    assert_eq!(ans.from_answerer.target(97), 96);
    assert_eq!(ans.from_answerer.target(96), 97);
    assert_eq!(ans.from_offerer.target(96), 97);
    assert_eq!(ans.from_offerer.target(97), 96);
}

#[test]
fn same_number_wins_among_equal_formats() {
    // Two PCMU formats offered; the answer's 0 maps to 0, not to the first PCMU.
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 96 0|a=rtpmap:96 PCMU/8000",
        &flags(),
        "m=audio 3000 RTP/AVP 0 96|a=rtpmap:96 PCMU/8000",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [0, 96]);
    assert!(ans.from_answerer.is_identity());
}

#[test]
fn h264_profiles_that_differ_are_not_answered() {
    let offer_lines = "m=video 2000 RTP/AVP 96 97|a=rtpmap:96 H264/90000|\
         a=fmtp:96 profile-level-id=42e01f;packetization-mode=1|a=rtpmap:97 H264/90000|\
         a=fmtp:97 profile-level-id=640c1f;packetization-mode=1|a=rtcp-fb:96 nack";
    // The answer's 97 is Constrained Baseline: it is the offer's 96, not its 97.
    let (_, ans) = negotiate(
        offer_lines,
        &flags(),
        "m=video 3000 RTP/AVP 97|a=rtpmap:97 H264/90000|\
         a=fmtp:97 profile-level-id=42e00a;packetization-mode=1|a=rtcp-fb:97 nack pli",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [96]);
    assert_eq!(ans.out[0].rtcp_fb, ["nack pli"]);
    assert_eq!(ans.from_answerer.target(97), 96);
    // Packetization mode 0 was not offered at all: nothing matches, the answer falls back.
    let (_, ans) = negotiate(
        offer_lines,
        &flags(),
        "m=video 3000 RTP/AVP 96|a=rtpmap:96 H264/90000|a=fmtp:96 profile-level-id=42e01f",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [96]);
    assert_eq!(ans.warnings.len(), 1, "{:?}", ans.warnings);
    assert!(
        ans.out[0]
            .fmtp
            .as_deref()
            .unwrap()
            .contains("packetization-mode=1"),
        "the fallback is the offerer's own codec"
    );
}

#[test]
fn amr_octet_align_must_agree() {
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 96 97 101|a=rtpmap:96 AMR-WB/16000|a=fmtp:96 octet-align=1|\
         a=rtpmap:97 AMR-WB/16000|a=rtpmap:101 telephone-event/16000",
        &flags(),
        "m=audio 3000 RTP/AVP 98 101|a=rtpmap:98 AMR-WB/16000|a=fmtp:98 mode-set=2|\
         a=rtpmap:101 telephone-event/16000",
        &flags(),
    );
    // The bandwidth-efficient answer is the offer's 97, not the octet-aligned 96.
    assert_eq!(pts(&ans.out), [97, 101]);
    assert_eq!(ans.from_answerer.target(98), 97);
}

#[test]
fn telephone_event_only_answer_gets_the_offered_voice_codec() {
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 0 8 101|a=rtpmap:101 telephone-event/8000|a=fmtp:101 0-15",
        &flags(),
        "m=audio 3000 RTP/AVP 101|a=rtpmap:101 telephone-event/8000|a=fmtp:101 0-15",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [0, 101]);
    assert_eq!(ans.warnings.len(), 1);
    assert!(ans.from_answerer.allows(0) && ans.from_offerer.allows(0));
}

#[test]
fn stray_only_answer_gets_the_offers_first_codec() {
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 0 8",
        &flags(),
        "m=audio 3000 RTP/AVP 9",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [0]);
    assert!(
        !ans.from_answerer.allows(9),
        "G.722 cannot reach a PCMU offerer"
    );
}

#[test]
fn rejected_answers_list_matches_or_the_offers_first() {
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 8 9",
        &flags(),
        "m=audio 0 RTP/AVP 0",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [8]);
    assert!(ans.warnings.is_empty());
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 0 8 101|a=rtpmap:101 telephone-event/8000",
        &flags(),
        "m=audio 0 RTP/AVP 101|a=rtpmap:101 telephone-event/8000",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [101]);
}

/// Offer options: (offer m= list with telephone-event 96 at 8 kHz, options, offer sent on,
/// answer, answer for the offerer). From rtpengine's test suite where no transcoding happens.
#[test]
fn offer_options_table() {
    struct Case {
        offer: &'static str,
        strip: &'static [&'static str],
        mask: &'static [&'static str],
        offer_opt: &'static [&'static str],
        except: &'static [&'static str],
        transcode: &'static [&'static str],
        out: &'static [u8],
        answer: &'static str,
        result: &'static [u8],
    }
    let none: &[&str] = &[];
    let cases = [
        Case {
            offer: "0 8",
            strip: none,
            mask: &["PCMA"],
            offer_opt: none,
            except: none,
            transcode: none,
            out: &[0],
            answer: "0",
            result: &[0],
        },
        Case {
            offer: "0 8",
            strip: none,
            mask: &["PCMU"],
            offer_opt: none,
            except: none,
            transcode: none,
            out: &[8],
            answer: "8",
            result: &[8],
        },
        Case {
            offer: "0 8 96",
            strip: none,
            mask: &["PCMA"],
            offer_opt: none,
            except: none,
            transcode: none,
            out: &[0, 96],
            answer: "0 96",
            result: &[0, 96],
        },
        Case {
            offer: "0 8 96",
            strip: none,
            mask: &["PCMU"],
            offer_opt: none,
            except: none,
            transcode: none,
            out: &[8, 96],
            answer: "8",
            result: &[8],
        },
        Case {
            offer: "0 8 96",
            strip: none,
            mask: &["telephone-event"],
            offer_opt: none,
            except: none,
            transcode: none,
            out: &[0, 8],
            answer: "8",
            result: &[8],
        },
        Case {
            offer: "0 8 96",
            strip: &["pcmu"],
            mask: none,
            offer_opt: none,
            except: none,
            transcode: none,
            out: &[8, 96],
            answer: "8 96",
            result: &[8, 96],
        },
        Case {
            offer: "0 8 96",
            strip: &["all"],
            mask: none,
            offer_opt: none,
            except: &["PCMA"],
            transcode: none,
            out: &[8],
            answer: "8",
            result: &[8],
        },
        // strip=all empties the list: a usage error, the offer goes on unchanged.
        Case {
            offer: "0 8 96",
            strip: &["all"],
            mask: none,
            offer_opt: none,
            except: none,
            transcode: none,
            out: &[0, 8, 96],
            answer: "0",
            result: &[0],
        },
        // offer= re-adds in its own order, before telephone-event.
        Case {
            offer: "0 8 96",
            strip: &["all"],
            mask: none,
            offer_opt: &["PCMA", "PCMU", "telephone-event"],
            except: none,
            transcode: none,
            out: &[8, 0, 96],
            answer: "0 96",
            result: &[0, 96],
        },
        Case {
            offer: "0 8 96",
            strip: none,
            mask: &["all"],
            offer_opt: none,
            except: none,
            transcode: &["PCMU"],
            out: &[0],
            answer: "0",
            result: &[0],
        },
        // transcode= of offered codecs only: nothing to transcode.
        Case {
            offer: "0 8",
            strip: none,
            mask: none,
            offer_opt: none,
            except: none,
            transcode: &["PCMA", "PCMU"],
            out: &[0, 8],
            answer: "8",
            result: &[8],
        },
        // Names rtpengine cannot synthesise are skipped.
        Case {
            offer: "0 8",
            strip: none,
            mask: none,
            offer_opt: none,
            except: none,
            transcode: &["t38"],
            out: &[0, 8],
            answer: "0",
            result: &[0],
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let f = CodecFlags {
            strip: list(c.strip),
            mask: list(c.mask),
            offer: list(c.offer_opt),
            except: list(c.except),
            transcode: list(c.transcode),
            ..flags()
        };
        let te = "|a=rtpmap:96 telephone-event/8000";
        let (plan, ans) = negotiate(
            &format!("m=audio 2000 RTP/AVP {}{te}", c.offer),
            &f,
            &format!("m=audio 3000 RTP/AVP {}{te}", c.answer),
            &flags(),
        );
        assert_eq!(pts(&plan.out), c.out, "case {i}: offer sent on");
        assert_eq!(pts(&ans.out), c.result, "case {i}: answer");
    }
}

#[test]
fn stripping_a_clock_rate_drops_its_telephone_event() {
    let o = section(
        "m=audio 2000 RTP/AVP 8 96 97 98|a=rtpmap:96 opus/48000/2|\
         a=rtpmap:97 telephone-event/8000|a=rtpmap:98 telephone-event/48000",
    );
    let plan = offer(
        &o,
        &CodecFlags {
            strip: list(&["PCMA"]),
            ..flags()
        },
    )
    .unwrap();
    assert_eq!(pts(&plan.out), [96, 98]);
    // Untouched clock rates keep their telephone-event even without a codec.
    let o = section(
        "m=audio 2000 RTP/AVP 0 96 97|a=rtpmap:96 telephone-event/8000|\
         a=rtpmap:97 telephone-event/16000",
    );
    let plan = offer(&o, &flags()).unwrap();
    assert_eq!(pts(&plan.out), [0, 96, 97]);
    // Stripping every voice codec would leave telephone-event alone and then nothing: the
    // offer goes on unchanged instead of without formats.
    let o = section("m=audio 2000 RTP/AVP 0 8 101|a=rtpmap:101 telephone-event/8000");
    let strip = CodecFlags {
        strip: list(&["PCMU", "PCMA"]),
        ..flags()
    };
    assert_eq!(pts(&offer(&o, &strip).unwrap().out), [0, 8, 101]);
}

#[test]
fn masked_opus_and_missing_names() {
    // gh 664: mask opus and G722 (absent), strip G7221 (absent).
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 120 8 0 101|a=rtpmap:120 opus/48000/2|\
         a=fmtp:120 useinbandfec=1; usedtx=1|a=rtpmap:101 telephone-event/8000",
        &CodecFlags {
            mask: list(&["opus", "G722"]),
            strip: list(&["G7221"]),
            ..flags()
        },
        "m=audio 3000 RTP/AVP 8 101|a=rtpmap:101 telephone-event/8000",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [8, 101]);
}

#[test]
fn single_codec_keeps_one_media_codec_and_the_supplementals() {
    let single = CodecFlags {
        single_codec: true,
        ..flags()
    };
    let te = "|a=rtpmap:101 telephone-event/8000";
    for (o, a, want) in [
        ("0 8", "0 8", &[0u8][..]),
        ("101 8 0", "101 8", &[101, 8]),
        ("0 8 101 13", "8 13 0 101", &[8, 13, 101]),
    ] {
        let (_, ans) = negotiate(
            &format!("m=audio 2000 RTP/AVP {o}{te}"),
            &flags(),
            &format!("m=audio 3000 RTP/AVP {a}{te}"),
            &single,
        );
        assert_eq!(pts(&ans.out), want, "{o} / {a}");
        assert!(!ans.from_answerer.allows(0) || want.contains(&0));
    }
}

#[test]
fn answer_options_strip_from_the_answer() {
    let te = "|a=rtpmap:101 telephone-event/8000";
    let (_, ans) = negotiate(
        &format!("m=audio 2000 RTP/AVP 0 8 101{te}"),
        &flags(),
        &format!("m=audio 3000 RTP/AVP 0 8 101{te}"),
        &CodecFlags {
            strip: list(&["PCMU"]),
            ..flags()
        },
    );
    assert_eq!(pts(&ans.out), [8, 101]);
}

#[test]
fn ignored_codecs_are_not_answered_to_the_offerer() {
    let (plan, ans) = negotiate(
        "m=audio 2000 RTP/AVP 0 8",
        &CodecFlags {
            ignore: list(&["PCMU"]),
            ..flags()
        },
        "m=audio 3000 RTP/AVP 0 8",
        &flags(),
    );
    assert_eq!(
        pts(&plan.out),
        [0, 8],
        "ignore leaves the offer sent on alone"
    );
    assert_eq!(pts(&ans.out), [8]);
}

#[test]
fn what_needs_transcoding_is_refused() {
    let o = section("m=audio 2000 RTP/AVP 0 8");
    for f in [
        CodecFlags {
            transcode: list(&["G722"]),
            ..flags()
        },
        CodecFlags {
            mask: list(&["full"]),
            transcode: list(&["PCMA"]),
            ..flags()
        },
        CodecFlags {
            ptime: Some(30),
            ..flags()
        },
    ] {
        let e = offer(&o, &f).unwrap_err();
        assert!(e.to_string().contains("needs transcoding"), "{e}");
    }
    // A ptime equal to the offer's (or the codec default) needs nothing.
    let plan = offer(
        &o,
        &CodecFlags {
            ptime: Some(20),
            ..flags()
        },
    )
    .unwrap();
    assert_eq!(plan.ptime, Some(20));
    let o = section("m=audio 2000 RTP/AVP 0|a=ptime:30");
    assert!(offer(
        &o,
        &CodecFlags {
            ptime: Some(30),
            ..flags()
        }
    )
    .is_ok());
    // ptime-reverse is checked against the answer.
    let plan = offer(
        &o,
        &CodecFlags {
            ptime_reverse: Some(20),
            ..flags()
        },
    )
    .unwrap();
    let a = section("m=audio 3000 RTP/AVP 0|a=ptime:40");
    assert!(answer(&plan, &a, false, &flags()).is_err());
    let a = section("m=audio 3000 RTP/AVP 0");
    let ans = answer(&plan, &a, false, &flags()).unwrap();
    assert_eq!(ans.ptime, Some(20));
}

#[test]
fn accept_warns_where_rtpengine_would_transcode() {
    let te = "|a=rtpmap:101 telephone-event/8000";
    // codec-accept PCMU, the answerer takes PCMA: rtpengine answers PCMU and transcodes.
    let (_, ans) = negotiate(
        "m=audio 2000 RTP/AVP 0 8",
        &CodecFlags {
            accept: list(&["PCMU"]),
            ..flags()
        },
        "m=audio 3000 RTP/AVP 8",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [8]);
    assert_eq!(ans.warnings.len(), 1, "{:?}", ans.warnings);
    // always transcode, everything answered: nothing to transcode, no warning.
    let all = CodecFlags {
        accept: list(&["all"]),
        always_transcode: true,
        ..flags()
    };
    let (_, ans) = negotiate(
        &format!("m=audio 2000 RTP/AVP 0 101{te}"),
        &all,
        &format!("m=audio 3000 RTP/AVP 0 101{te}"),
        &flags(),
    );
    assert_eq!(pts(&ans.out), [0, 101]);
    assert!(ans.warnings.is_empty(), "{:?}", ans.warnings);
    // ... but without telephone-event in the answer rtpengine would generate it.
    let (_, ans) = negotiate(
        &format!("m=audio 2000 RTP/AVP 0 101{te}"),
        &all,
        "m=audio 3000 RTP/AVP 0",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [0]);
    assert_eq!(ans.warnings.len(), 1);
    // consume: masked on, answered as the answerer chose.
    let (plan, ans) = negotiate(
        "m=audio 2000 RTP/AVP 0 8",
        &CodecFlags {
            consume: list(&["PCMU"]),
            ..flags()
        },
        "m=audio 3000 RTP/AVP 8",
        &flags(),
    );
    assert_eq!(pts(&plan.out), [8]);
    assert_eq!(pts(&ans.out), [8]);
    assert_eq!(ans.warnings.len(), 1);
}

#[test]
fn early_media_passes_the_offered_types_unchanged() {
    let o = section("m=audio 2000 RTP/AVP 0 8 101|a=rtpmap:101 telephone-event/8000");
    let plan = offer(
        &o,
        &CodecFlags {
            mask: list(&["PCMA"]),
            ..flags()
        },
    )
    .unwrap();
    let early = plan.early_payload_types();
    assert!(early.allows(0) && early.allows(101) && !early.allows(8));
    assert!(early.is_identity());
}

#[test]
fn rtx_follows_its_codec_through_renumbering() {
    // Chrome-like video offer: VP8 96 + rtx 97, H264 102 + rtx 103.
    let offer_lines = "m=video 2000 RTP/AVP 96 97 102 103|a=rtpmap:96 VP8/90000|\
         a=rtpmap:97 rtx/90000|a=fmtp:97 apt=96|a=rtpmap:102 H264/90000|\
         a=fmtp:102 profile-level-id=42e01f;packetization-mode=1|a=rtpmap:103 rtx/90000|\
         a=fmtp:103 apt=102";
    // The answerer numbers H264 100 with rtx 101, and VP8 120 with rtx 121.
    let (_, ans) = negotiate(
        offer_lines,
        &flags(),
        "m=video 3000 RTP/AVP 100 101 120 121|a=rtpmap:100 H264/90000|\
         a=fmtp:100 profile-level-id=42e01f;packetization-mode=1|a=rtpmap:101 rtx/90000|\
         a=fmtp:101 apt=100;rtx-time=3000|a=rtpmap:120 VP8/90000|a=rtpmap:121 rtx/90000|\
         a=fmtp:121 apt=120",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [102, 103, 96, 97]);
    assert_eq!(ans.out[1].fmtp.as_deref(), Some("apt=102;rtx-time=3000"));
    assert_eq!(ans.out[3].fmtp.as_deref(), Some("apt=96"));
    for (b, a) in [(100, 102), (101, 103), (120, 96), (121, 97)] {
        assert_eq!(ans.from_answerer.target(b), a);
        assert_eq!(ans.from_offerer.target(a), b);
    }
    // rtx for a codec the answer did not keep goes too.
    let (_, ans) = negotiate(
        offer_lines,
        &flags(),
        "m=video 3000 RTP/AVP 96 97 98|a=rtpmap:96 VP8/90000|a=rtpmap:97 rtx/90000|\
         a=fmtp:97 apt=96|a=rtpmap:98 rtx/90000|a=fmtp:98 apt=99",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [96, 97]);
}

#[test]
fn red_is_kept_only_where_its_payload_types_agree() {
    let offer_lines = "m=audio 2000 RTP/AVP 111 63 0|a=rtpmap:111 opus/48000/2|\
         a=rtpmap:63 red/48000/2|a=fmtp:63 111/111";
    let (_, ans) = negotiate(
        offer_lines,
        &flags(),
        "m=audio 3000 RTP/AVP 111 63|a=rtpmap:111 opus/48000/2|a=rtpmap:63 red/48000/2|\
         a=fmtp:63 111/111",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [111, 63]);
    // Opus renumbered: RED packets name opus inside their payload, so RED is not answered.
    let (_, ans) = negotiate(
        offer_lines,
        &flags(),
        "m=audio 3000 RTP/AVP 109 63|a=rtpmap:109 opus/48000/2|a=rtpmap:63 red/48000/2|\
         a=fmtp:63 109/109",
        &flags(),
    );
    assert_eq!(pts(&ans.out), [111]);
}
