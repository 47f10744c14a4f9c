//! Every reason code a provider edge reports has words on its page, in every language: the web
//! edge lists the same codes as the edge's `Reason::ALL`, and its catalogue has
//! `<provider>.reason.<CODE>` for each, so that no reason falls back to the edge's English. The
//! same holds for the reasons core itself gives (`reason.<CODE>` for each of core's
//! `Reason::ALL`), which every page with a resource's state shows.

use assistchat_core::store::states::Reason as CoreReason;
use assistchat_edge_web::{i18n::has_message, pages::channel::CHANNELS};

fn page_reasons(provider: &str) -> Vec<&'static str> {
    let channel = CHANNELS.iter().find(|channel| channel.provider == provider).expect("a page of its own");
    let mut reasons = channel.reasons.to_vec();
    reasons.sort_unstable();
    reasons
}

fn check(provider: &str, mut codes: Vec<&'static str>) {
    codes.sort_unstable();
    assert_eq!(page_reasons(provider), codes, "the {provider} page lists every reason its edge gives, and no other");
    for code in codes {
        let key = format!("{provider}.reason.{code}");
        assert!(has_message(&key), "{key} is missing from edge-web/locales/messages.toml");
    }
}

#[test]
fn the_telegram_edges_reasons_have_words_on_its_page() {
    check("telegram", assistchat_edge_telegram::reason::Reason::ALL.map(|reason| reason.code()).to_vec());
}

#[test]
fn the_zoom_edges_reasons_have_words_on_its_page() {
    check("zoom", assistchat_edge_zoom::reason::Reason::ALL.map(|reason| reason.code()).to_vec());
}

#[test]
fn the_reasons_core_gives_have_words_on_every_page() {
    for reason in CoreReason::ALL {
        let key = format!("reason.{}", reason.as_str());
        assert!(has_message(&key), "{key} is missing from edge-web/locales/messages.toml");
    }
}
