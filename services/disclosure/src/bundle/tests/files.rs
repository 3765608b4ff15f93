use super::*;

#[test]
fn calls_and_notice_files_read_as_documented() {
    let built = build();
    let entries = entries(&built.zip);
    let content = |name: &str| -> String {
        let bytes = &entries
            .iter()
            .find(|(entry, _)| entry == name)
            .expect("present")
            .1;
        String::from_utf8(bytes.clone()).expect("utf-8")
    };
    let csv = content("calls.csv");
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("recording_id,started_at,ended_at,direction,subject_number,queue,duration_ms,agent")
    );
    let first = lines.next().expect("a row");
    assert!(
        first.ends_with(",2026-05-28T20:26:40Z,2026-05-28T20:26:43Z,inbound,+819012345678,\"サポート, \"\"premium\"\"\",3000,agent-7f3a"),
        "{first}"
    );
    assert_eq!(
        csv.matches("\r\n").count(),
        4,
        "a header and 3 rows, crlf-ended"
    );
    assert!(!csv.contains("other_party") && !content("calls.json").contains("other_party"));
    let json: Vec<CallRow> = serde_json::from_str(&content("calls.json")).expect("calls.json");
    assert_eq!(json.len(), 3);
    assert_eq!(json[0].queue.as_deref(), Some("サポート, \"premium\""));

    let txt = content("information.txt");
    let order = [
        "利用目的",
        "個人データの項目",
        "提供先",
        "保存期間",
        "取得元",
        "本人の権利",
        "品質管理のため。",
        "Purposes",
        "Categories of personal data",
        "Recipients",
        "Retention",
        "Source",
        "Your rights",
        "Complain to the PPC.",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|needle| txt.find(needle).expect(needle))
        .collect();
    assert!(
        positions[..6].windows(2).all(|pair| pair[0] < pair[1]),
        "japanese headings in order"
    );
    assert!(
        positions[7..].windows(2).all(|pair| pair[0] < pair[1]),
        "english after japanese, in order"
    );
    assert!(positions[5] < positions[7]);
    let info: PrivacyNotice =
        serde_json::from_str(&content("information.json")).expect("information.json");
    assert_eq!(info, notice());
}

#[test]
fn csv_quotes_only_what_rfc_4180_needs() {
    let mut row = call(Uuid::nil(), at(0), Some("line\nbreak"));
    row.agent = None;
    row.started_at = Utc
        .timestamp_millis_opt(1_780_000_000_250)
        .single()
        .expect("a time");
    let mut csv = Vec::new();
    write_calls_csv(std::slice::from_ref(&row), &mut csv).expect("writes");
    let csv = String::from_utf8(csv).expect("utf-8");
    let row_line = csv.split_once("\r\n").expect("header").1;
    assert_eq!(
        row_line,
        "00000000-0000-0000-0000-000000000000,2026-05-28T20:26:40.250Z,2026-05-28T20:26:43Z,inbound,+819012345678,\"line\nbreak\",3000,\r\n"
    );
    let json = serde_json::to_value(&row).expect("json");
    assert_eq!(
        json["started_at"], "2026-05-28T20:26:40.250Z",
        "the csv's times read as the json's"
    );
}
