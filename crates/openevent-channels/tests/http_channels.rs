//! WhatsApp, SMS and webhook channels against a local mock server (wiremock): what each sends
//! (path, auth, idempotency, body) and how each answer is classified.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use openevent_automation::phone::{Country, E164};
use openevent_automation::template::Rendered;
use openevent_channels::webhook::{self, SignatureError};
use openevent_channels::{
    Address, Channel, DeliveryResult, OutboundMessage, SmsChannel, SmsConfig, WebhookChannel,
    WebhookConfig, WhatsAppChannel, WhatsAppConfig,
};
use wiremock::matchers::{basic_auth, bearer_token, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "dk1-00112233445566778899aabbccddeeff";
const WEBHOOK_SECRET: &str = "whsec_0123456789abcdef";

fn phone() -> Address {
    Address::Phone(E164::parse("079 123 45 67", Country::CH).unwrap())
}

fn message(to: Address) -> OutboundMessage {
    OutboundMessage::new(
        KEY,
        to,
        Rendered {
            subject: Some("Reminder".into()),
            text: "Grüezi Laura, see you on Saturday 20.06.2026 at 18:00.".into(),
            html: None,
        },
    )
}

fn secrets() -> [(&'static str, &'static str); 3] {
    [
        ("WA_TOKEN", "wa-token-123"),
        ("TWILIO_TOKEN", "tw-token-456"),
        ("HOOK_SECRET", WEBHOOK_SECRET),
    ]
}

fn whatsapp(server: &MockServer) -> WhatsAppChannel {
    let config = WhatsAppConfig {
        base_url: server.uri(),
        api_version: "v21.0".into(),
        phone_number_id: "106540352242922".into(),
        token_env: "WA_TOKEN".into(),
        timeout_secs: 5,
    };
    WhatsAppChannel::new(&config, &secrets()).unwrap()
}

fn sms(server: &MockServer) -> SmsChannel {
    let config = SmsConfig {
        base_url: server.uri(),
        account_sid: "AC0123456789abcdef".into(),
        api_key_sid: None,
        auth_token_env: "TWILIO_TOKEN".into(),
        from: Some("+41445005050".into()),
        messaging_service_sid: None,
        status_callback: None,
        timeout_secs: 5,
    };
    SmsChannel::new(&config, &secrets()).unwrap()
}

fn webhook_channel(timeout_secs: u64) -> WebhookChannel {
    let config = WebhookConfig {
        secret_env: "HOOK_SECRET".into(),
        timeout_secs,
    };
    WebhookChannel::new(&config, &secrets()).unwrap()
}

const WA_PATH: &str = "/v21.0/106540352242922/messages";
const SMS_PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json";

fn transient_after(r: &DeliveryResult) -> Option<Option<u32>> {
    match r {
        DeliveryResult::Transient {
            retry_after_secs, ..
        } => Some(*retry_after_secs),
        _ => None,
    }
}

// ---------------------------------------------------------------- WhatsApp

type Expect = fn(&DeliveryResult) -> bool;

#[tokio::test]
async fn whatsapp_sends_a_text_with_bearer_auth_and_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WA_PATH))
        .and(bearer_token("wa-token-123"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+41791234567", "wa_id": "41791234567"}],
            "messages": [{"id": "wamid.HBgLNDE3OTEyMzQ1NjcVAgARGBI"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = whatsapp(&server).send(&message(phone())).await;
    assert_eq!(
        r,
        DeliveryResult::Sent {
            provider_id: Some("wamid.HBgLNDE3OTEyMzQ1NjcVAgARGBI".into())
        }
    );
    let req = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["to"], "+41791234567");
    assert_eq!(body["type"], "text");
    assert_eq!(
        body["text"]["body"],
        "Grüezi Laura, see you on Saturday 20.06.2026 at 18:00."
    );
    assert_eq!(body["biz_opaque_callback_data"], KEY);
}

#[tokio::test]
async fn whatsapp_answers_are_classified() {
    let server = MockServer::start().await;
    let ch = whatsapp(&server);
    let cases: Vec<(ResponseTemplate, Expect)> = vec![
        (
            ResponseTemplate::new(429).insert_header("retry-after", "30"),
            |r| transient_after(r) == Some(Some(30)),
        ),
        (ResponseTemplate::new(500), |r| {
            transient_after(r) == Some(None)
        }),
        (
            ResponseTemplate::new(503).insert_header("retry-after", "7"),
            |r| transient_after(r) == Some(Some(7)),
        ),
        (
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": {"message": "(#131026) Message undeliverable", "code": 131026}
            })),
            |r| matches!(r, DeliveryResult::Permanent { error } if error.contains("131026")),
        ),
        // Meta's throughput limit comes as a 400 with its own code: later, not never.
        (
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": {"message": "(#130429) Rate limit hit", "code": 130429}
            })),
            |r| transient_after(r).is_some(),
        ),
        (ResponseTemplate::new(401), |r| {
            matches!(r, DeliveryResult::Permanent { .. })
        }),
    ];
    for (i, (response, ok)) in cases.into_iter().enumerate() {
        server.reset().await;
        Mock::given(method("POST"))
            .and(path(WA_PATH))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        let r = ch.send(&message(phone())).await;
        assert!(ok(&r), "case {i}: {r:?}");
        server.verify().await;
    }
}

#[tokio::test]
async fn whatsapp_refuses_a_non_phone_address_without_calling() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let r = whatsapp(&server)
        .send(&message(Address::Email("laura@example.com".into())))
        .await;
    assert_eq!(
        r,
        DeliveryResult::Permanent {
            error: "whatsapp: cannot deliver to a email address".into()
        }
    );
}

// ---------------------------------------------------------------- SMS

#[tokio::test]
async fn sms_posts_a_form_with_basic_auth_and_the_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SMS_PATH))
        .and(basic_auth("AC0123456789abcdef", "tw-token-456"))
        .and(header("idempotency-key", KEY))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
            "status": "queued"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = sms(&server).send(&message(phone())).await;
    assert_eq!(
        r,
        DeliveryResult::Sent {
            provider_id: Some("SM1f0e8ae6ade43cb3c0ce4525424e404f".into())
        }
    );
    let req = &server.received_requests().await.unwrap()[0];
    let form: Vec<(String, String)> = req
        .body
        .split(|b| *b == b'&')
        .map(|kv| {
            let s = String::from_utf8(kv.to_vec()).unwrap();
            let (k, v) = s.split_once('=').unwrap();
            (k.to_owned(), percent_decode(v))
        })
        .collect();
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("To"), Some("+41791234567"));
    assert_eq!(get("From"), Some("+41445005050"));
    assert_eq!(
        get("Body"),
        Some("Grüezi Laura, see you on Saturday 20.06.2026 at 18:00.")
    );
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn sms_answers_are_classified() {
    let server = MockServer::start().await;
    let ch = sms(&server);

    // 429 with an HTTP-date two minutes ahead.
    let at = Timestamp::now() + SignedDuration::from_secs(120);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap();
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", date.as_str())
                .set_body_json(serde_json::json!({"code": 20429, "message": "Too Many Requests"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let r = ch.send(&message(phone())).await;
    let secs = transient_after(&r)
        .flatten()
        .expect("transient with retry-after");
    assert!((115..=121).contains(&secs), "{secs}: {r:?}");

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211, "message": "Invalid 'To' Phone Number: +4179123", "status": 400
        })))
        .mount(&server)
        .await;
    assert_eq!(
        ch.send(&message(phone())).await,
        DeliveryResult::Permanent {
            error: "sms: http 400: Invalid 'To' Phone Number: +4179123".into()
        }
    );
}

#[tokio::test]
async fn sms_retries_carry_the_same_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM2"})))
        .expect(1)
        .mount(&server)
        .await;
    let ch = sms(&server);
    let msg = message(phone());
    assert_eq!(transient_after(&ch.send(&msg).await), Some(None));
    assert_eq!(
        ch.send(&msg).await,
        DeliveryResult::Sent {
            provider_id: Some("SM2".into())
        }
    );
    let keys: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys, [KEY, KEY]);
}

// ---------------------------------------------------------------- webhook

#[tokio::test]
async fn webhook_is_signed_and_verifies_with_the_documented_scheme() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/crm"))
        .and(header("idempotency-key", KEY))
        .respond_with(ResponseTemplate::new(202).set_body_json(serde_json::json!({"id": 7781})))
        .expect(1)
        .mount(&server)
        .await;
    let mut msg = message(Address::Webhook(format!("{}/hooks/crm", server.uri())));
    msg.html = Some("<p>Grüezi</p>".into());
    let r = webhook_channel(5).send(&msg).await;
    assert_eq!(
        r,
        DeliveryResult::Sent {
            provider_id: Some("7781".into())
        }
    );

    let req = &server.received_requests().await.unwrap()[0];
    let ts = req
        .headers
        .get("x-openevent-timestamp")
        .unwrap()
        .to_str()
        .unwrap();
    let sig = req
        .headers
        .get("x-openevent-signature")
        .unwrap()
        .to_str()
        .unwrap();
    // The scheme, by hand: sha256= hex HMAC-SHA256(secret, "<timestamp>.<body>").
    assert_eq!(
        sig,
        webhook::sign(WEBHOOK_SECRET.as_bytes(), ts.parse().unwrap(), &req.body)
    );
    assert_eq!(
        webhook::verify(
            WEBHOOK_SECRET.as_bytes(),
            ts,
            sig,
            &req.body,
            Timestamp::now(),
            300
        ),
        Ok(())
    );
    assert_eq!(
        webhook::verify(
            b"another-secret-entirely",
            ts,
            sig,
            &req.body,
            Timestamp::now(),
            300
        ),
        Err(SignatureError::Mismatch)
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["delivery_key"], KEY);
    assert_eq!(body["subject"], "Reminder");
    assert_eq!(body["html"], "<p>Grüezi</p>");
}

#[tokio::test]
async fn webhook_answers_are_classified() {
    let server = MockServer::start().await;
    let ch = webhook_channel(5);
    let msg = message(Address::Webhook(format!("{}/hook", server.uri())));
    for (status, retry_after, want_transient) in [
        (429, Some("12"), true),
        (500, None, true),
        (502, None, true),
        (400, None, false),
        (404, None, false),
        (301, None, false),
    ] {
        server.reset().await;
        let mut resp = ResponseTemplate::new(status);
        if let Some(ra) = retry_after {
            resp = resp.insert_header("retry-after", ra);
        }
        if status == 301 {
            resp = resp.insert_header("location", "https://elsewhere.example/hook");
        }
        Mock::given(method("POST"))
            .respond_with(resp)
            .expect(1)
            .mount(&server)
            .await;
        let r = ch.send(&msg).await;
        if want_transient {
            assert_eq!(
                transient_after(&r),
                Some(retry_after.map(|s| s.parse().unwrap())),
                "{status}: {r:?}"
            );
        } else {
            assert!(
                matches!(r, DeliveryResult::Permanent { .. }),
                "{status}: {r:?}"
            );
        }
        server.verify().await;
    }
}

#[tokio::test]
async fn webhook_down_or_slow_is_transient_and_cleartext_is_refused() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ch = webhook_channel(1);
    let r = ch
        .send(&message(Address::Webhook(format!(
            "http://127.0.0.1:{port}/hook"
        ))))
        .await;
    let DeliveryResult::Transient { error, .. } = &r else {
        panic!("{r:?}")
    };
    assert!(error.starts_with("webhook: connection failed"), "{error}");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let r = ch
        .send(&message(Address::Webhook(format!("{}/hook", server.uri()))))
        .await;
    let DeliveryResult::Transient { error, .. } = &r else {
        panic!("{r:?}")
    };
    assert!(error.starts_with("webhook: timeout"), "{error}");

    let r = ch
        .send(&message(Address::Webhook(
            "http://crm.example.com/hook".into(),
        )))
        .await;
    assert!(
        matches!(&r, DeliveryResult::Permanent { error } if error.contains("https")),
        "{r:?}"
    );
}
