//! `--mask`: no planted personal value reaches a masked output, in any
//! text format, and every decoy beside them arrives unchanged; the summary
//! counts the matches; without `--mask` the output is as it always was.

use crate::common::*;
use yuju_export::simulator::data::{PII_DECOYS, PII_PLANTED};

/// The customers: two carrying planted values and decoys, and ordinary
/// ones around them.
fn list() -> Vec<String> {
    let mut list = ids(4);
    list.insert(1, "pii-a".into());
    list.push("pii-b".into());
    list
}

#[test]
fn masked_outputs_hold_no_planted_value_and_every_decoy() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &list());
    for out in ["m.csv", "m.jsonl"] {
        let o = wd.export_to(
            &sim,
            out,
            &[
                "--mask",
                "pii",
                "--columns",
                "customer_id,chat_id,seq,content,extra,chat_extra",
                "--summary",
                "s.json",
            ],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let text = std::fs::read_to_string(wd.path(out)).unwrap();
        for planted in PII_PLANTED {
            assert!(!text.contains(planted), "{out}: {planted} is in the output");
        }
        for decoy in PII_DECOYS {
            assert!(text.contains(decoy), "{out}: the decoy {decoy} is gone");
        }
        assert!(
            text.contains("[MOBILE]") && text.contains("[ID_CARD]"),
            "{out}"
        );
        assert!(
            text.contains("[BANK_CARD]") && text.contains("[EMAIL]"),
            "{out}"
        );
        // A number in an undocumented field stays a number.
        assert!(
            text.contains("13912345678"),
            "{out}: the numeric field was rewritten"
        );
        let err = stderr(&o);
        for planted in PII_PLANTED {
            assert!(!err.contains(planted), "the log quotes {planted}");
        }
    }
}

/// Parquet too: its pages are compressed, so its rows are read back.
#[test]
fn masked_parquet_holds_no_planted_value() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &list());
    let o = wd.export_to(&sim, "m.parquet", &["--mask", "pii"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text: String = crate::parquet_output::read_parquet(&wd.path("m.parquet"))
        .into_iter()
        .map(|r| r.content + "\n")
        .collect();
    for planted in PII_PLANTED {
        assert!(
            !text.contains(planted),
            "{planted} is in the Parquet output"
        );
    }
    for decoy in PII_DECOYS {
        assert!(text.contains(decoy), "the decoy {decoy} is gone");
    }
}

/// `--mask-style partial` keeps the customary visible parts; without
/// `--mask` every value is written as the platform sent it, and the
/// summary has no `masked` key.
#[test]
fn partial_style_and_no_mask() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &list());
    // The matches are counted: per pii customer, 5 mobiles alone, 3 more
    // in its last message and 1 in a field; 1 ID number; 3 cards; 3
    // addresses and 1 in a chat's field.
    wd.ids("pii.txt", &["pii-a", "pii-b"]);
    let o = wd.export(
        &sim,
        &[
            "--ids",
            "pii.txt",
            "--out",
            "c.csv",
            "--mask",
            "pii",
            "--summary",
            "c.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = read_summary(&wd.path("c.json"));
    assert_eq!(s["masked"]["mobile"], 2 * (5 + 3 + 1), "{s}");
    assert_eq!(s["masked"]["id-card"], 2, "{s}");
    assert_eq!(s["masked"]["bank-card"], 2 * 3, "{s}");
    assert_eq!(s["masked"]["email"], 2 * (3 + 1), "{s}");
    assert!(stderr(&o).is_empty() || !stderr(&o).contains("13812340000"));

    let o = wd.export_to(&sim, "p.csv", &["--mask", "pii", "--mask-style", "partial"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(wd.path("p.csv")).unwrap();
    for shown in [
        "138****0000",
        "1101**********002X",
        "4111 **** **** 1111",
        "z***@example.com",
    ] {
        assert!(text.contains(shown), "{shown}");
    }
    let o = wd.export_to(&sim, "plain.csv", &["--summary", "s.json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(wd.path("plain.csv")).unwrap();
    for planted in PII_PLANTED {
        assert!(text.contains(planted), "{planted}");
    }
    assert!(read_summary(&wd.path("s.json")).get("masked").is_none());
    let o = wd.export_to(&sim, "bad.csv", &["--mask", "phone"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown class"), "{}", stderr(&o));
}

/// `--pseudonymize`: every row's customer_id is the keyed pseudonym of
/// the real one, the same in a second run; the failed file keeps the real
/// IDs; a key file others can read is refused.
#[cfg(unix)]
#[test]
fn customer_ids_become_keyed_pseudonyms() {
    use std::os::unix::fs::PermissionsExt;
    use yuju_export::record::pseudonym::Pseudonymizer;
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let mut list = ids(5);
    list.push("unknown-1".into());
    wd.ids("ids.txt", &list);
    let key = wd.write("pkey", "a-secret-of-more-than-sixteen-bytes\n");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = Pseudonymizer::new(b"a-secret-of-more-than-sixteen-bytes").unwrap();
    let args = ["--pseudonymize", "--pseudonym-key-file", "pkey"];
    for out in ["a.csv", "b.csv"] {
        let o = wd.export_to(&sim, out, &args);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
    }
    let rows = read_csv(&wd.path("a.csv"));
    let expected: Vec<Row> = expected_rows(&list[..5])
        .into_iter()
        .map(|r| Row {
            customer_id: p.pseudonym(&r.customer_id),
            ..r
        })
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(read_csv(&wd.path("b.csv")), rows, "the same in every run");
    let text = std::fs::read_to_string(wd.path("a.csv")).unwrap();
    assert!(list[..5].iter().all(|id| !text.contains(id.as_str())));
    assert_eq!(read_failed(&wd.path("a.csv.failed.csv"))[0].0, "unknown-1");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = wd.export_to(&sim, "c.csv", &args);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("a-secret"), "{}", stderr(&o));
}
