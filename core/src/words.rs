//! What core tells people about their assistant, in their interface language: these texts reach
//! a person as they are (in a chat as the reply, on a page), so each says what to do.

use std::{net::IpAddr, time::Duration};

/// Something to tell a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phrase<'a> {
    /// Managed mode, and the operator set no key.
    NoPlatformKey,
    /// Byok mode without a stored key.
    OwnKeyMissing,
    /// The user's own key was rejected by its server.
    OwnKeyRejected,
    /// The platform's key was rejected by its server.
    PlatformKeyRejected,
    /// The user's own key has no quota or credit left.
    OwnQuotaSpent,
    /// The platform's key has no quota or credit left.
    PlatformQuotaSpent,
    /// The user's daily token quota in managed mode is spent.
    DailyQuotaSpent {
        /// The quota, in tokens.
        quota: u64,
        /// How long until it starts again.
        resets_in: Duration,
    },
    /// The user has as many replies being written at once as they may.
    TooManyCalls {
        /// How many may be written at once.
        limit: usize,
        /// When to send again.
        retry_in: Duration,
    },
    /// The user has as many live status views open as they may.
    TooManyWatches {
        /// How many may be open at once.
        limit: usize,
    },
    /// The user has as many chat replies streaming as they may.
    TooManyChatStreams {
        /// How many may stream at once.
        limit: usize,
    },
    /// The model could not be reached, kept failing or was too slow.
    ModelUnavailable,
    /// The model's server refused the request itself.
    ModelRefused(&'a str),
    /// A key check: the server accepted the key.
    KeyAccepted(&'a str),
    /// A key check: the server rejected the key.
    KeyRejected {
        /// The server's base URL.
        url: &'a str,
        /// What it said.
        detail: &'a str,
    },
    /// A key check: the server could not be reached.
    KeyUnchecked {
        /// The server's base URL.
        url: &'a str,
        /// What failed.
        detail: &'a str,
    },
    /// A key check without a key.
    KeyMissing,
    /// The model server a user chose is, or its name leads to, an address inside the server's
    /// network, which the outbound policy refuses.
    AddressInside {
        /// The URL's host as written (the address itself for an IP address).
        host: &'a str,
        /// The address refused.
        address: IpAddr,
    },
    /// The host name of the model server a user chose resolves to no address.
    HostUnresolved(&'a str),
    /// A conversation of another channel was sent a message in the browser.
    AnswerInChannel(&'a str),
    /// Regenerating in a conversation without a message of the person's.
    NothingToRegenerate,
    /// Regenerating while a reply is being written.
    ReplyBeingWritten,
    /// A model the person may not choose.
    ModelNotOffered {
        /// The model asked for.
        model: &'a str,
        /// Those offered, comma-separated.
        offered: &'a str,
    },
    /// The person's model server could not list its models.
    ModelsUnavailable,
}

/// `phrase` in the language `language_code` ("en" or "ru"; anything else is English).
pub fn say(language_code: &str, phrase: &Phrase<'_>) -> String {
    if language_code == "ru" { russian(phrase) } else { english(phrase) }
}

fn english(phrase: &Phrase<'_>) -> String {
    match phrase {
        Phrase::NoPlatformKey => "This platform has no AI key of its own: add your own OpenAI key in Profile and \
                                  choose it, or ask the platform's operator to set one."
            .into(),
        Phrase::OwnKeyMissing => "You chose your own OpenAI key but have not added one: add your OpenAI key in \
                                  Profile, or switch to the platform's key."
            .into(),
        Phrase::OwnKeyRejected => "The model's server rejected your OpenAI key: replace it in Profile, or switch \
                                   to the platform's key."
            .into(),
        Phrase::PlatformKeyRejected => "The platform's AI key was rejected by the model's server: please tell the \
                                        platform's operator; meanwhile you can add your own key in Profile."
            .into(),
        Phrase::OwnQuotaSpent => "Your OpenAI key has no quota or credit left: top it up with your provider, or \
                                  switch to the platform's key in Profile."
            .into(),
        Phrase::PlatformQuotaSpent => "The platform's AI credit is spent: please tell the platform's operator; \
                                       meanwhile you can add your own key in Profile."
            .into(),
        Phrase::DailyQuotaSpent { quota, resets_in } => {
            let (hours, minutes) = hours_minutes(*resets_in);
            format!(
                "Today's AI quota of {quota} tokens is spent. It starts again at midnight UTC, in {hours} h \
                 {minutes} min; to go on now, add your own OpenAI key in Profile and choose it."
            )
        }
        Phrase::TooManyCalls { limit, retry_in } => format!(
            "The assistant is already answering {limit} of your messages at once. Wait for those replies, then send \
             this message again in {} s.",
            seconds(*retry_in)
        ),
        Phrase::TooManyWatches { limit } => format!(
            "You already have {limit} pages or apps following your assistant's status. Close the tabs you do not \
             need, or wait a minute and reload this one."
        ),
        Phrase::TooManyChatStreams { limit } => format!(
            "You already have {limit} chat replies on their way. Wait for them to finish or close other chat tabs, \
             then send your message again."
        ),
        Phrase::ModelUnavailable => {
            "The AI model cannot be reached or is too slow right now. Please send your message again in a minute."
                .into()
        }
        Phrase::ModelRefused(detail) => format!(
            "The model's server refused the request ({detail}). Check the model name in Profile, or ask the \
             platform's operator."
        ),
        Phrase::KeyAccepted(url) => format!("The server at {url} accepted the key."),
        Phrase::KeyRejected { url, detail } => format!(
            "The server at {url} rejected this key ({detail}). Check that you copied the whole key, or make a new \
             one with your provider."
        ),
        Phrase::KeyUnchecked { url, detail } => format!(
            "The server at {url} could not be reached ({detail}), so the key was not checked. Check the base URL in \
             Profile, or test the key again later."
        ),
        Phrase::KeyMissing => "No key is stored: add your OpenAI key first.".into(),
        Phrase::AddressInside { host, address } => {
            let what = if *host == address.to_string() {
                format!("{address} is an address")
            } else {
                format!("{host} leads to {address}, an address")
            };
            format!(
                "{what} inside the server's network, which a model server of your choice may not use: enter your \
                 model server's public address as the base URL in Profile, or ask the platform's operator to allow \
                 this one (ASSISTCHAT_OUTBOUND_ALLOW)."
            )
        }
        Phrase::AnswerInChannel(channel) => {
            format!("This conversation is in {channel}: answer there. To talk here, start a new conversation.")
        }
        Phrase::NothingToRegenerate => {
            "This conversation has no message of yours to answer again: write a message first.".into()
        }
        Phrase::ReplyBeingWritten => {
            "A reply is still being written: wait for it or stop it, then ask for a new one.".into()
        }
        Phrase::ModelNotOffered { model, offered } => {
            format!("The model \"{model}\" is not offered to you. Choose one of these: {offered}.")
        }
        Phrase::ModelsUnavailable => "Your model server did not list its models: check the base URL and key in \
                                      Profile, or try again in a minute."
            .into(),
        Phrase::HostUnresolved(host) => format!(
            "{host} does not resolve to any address: check the host of the base URL in Profile, or ask the \
             platform's operator to allow it (ASSISTCHAT_OUTBOUND_ALLOW)."
        ),
    }
}

fn russian(phrase: &Phrase<'_>) -> String {
    match phrase {
        Phrase::NoPlatformKey => "У платформы нет своего ключа AI: добавьте в профиле свой ключ OpenAI и выберите \
                                  его или попросите администратора платформы задать ключ."
            .into(),
        Phrase::OwnKeyMissing => "Вы выбрали собственный ключ OpenAI, но не добавили его: добавьте ключ OpenAI в \
                                  профиле или переключитесь на ключ платформы."
            .into(),
        Phrase::OwnKeyRejected => "Сервер модели отклонил ваш ключ OpenAI: замените его в профиле или \
                                   переключитесь на ключ платформы."
            .into(),
        Phrase::PlatformKeyRejected => "Сервер модели отклонил ключ AI платформы: сообщите об этом администратору \
                                        платформы, а пока можете добавить свой ключ в профиле."
            .into(),
        Phrase::OwnQuotaSpent => "У вашего ключа OpenAI закончились квота или средства: пополните счёт у \
                                  провайдера или переключитесь на ключ платформы в профиле."
            .into(),
        Phrase::PlatformQuotaSpent => "У платформы закончились средства на AI: сообщите об этом администратору \
                                       платформы, а пока можете добавить свой ключ в профиле."
            .into(),
        Phrase::DailyQuotaSpent { quota, resets_in } => {
            let (hours, minutes) = hours_minutes(*resets_in);
            format!(
                "Дневная квота AI в {quota} токенов исчерпана. Она обновится в полночь UTC, через {hours} ч \
                 {minutes} мин; чтобы продолжить сейчас, добавьте свой ключ OpenAI в профиле и выберите его."
            )
        }
        Phrase::TooManyCalls { limit, retry_in } => format!(
            "Ассистент уже отвечает на {limit} ваших сообщений одновременно. Дождитесь этих ответов и отправьте \
             это сообщение ещё раз через {} с.",
            seconds(*retry_in)
        ),
        Phrase::TooManyWatches { limit } => format!(
            "У вас уже открыто {limit} страниц или приложений, следящих за состоянием ассистента. Закройте \
             ненужные вкладки или подождите минуту и обновите эту страницу."
        ),
        Phrase::TooManyChatStreams { limit } => format!(
            "Уже идут {limit} ответов в чате. Дождитесь их окончания или закройте другие вкладки чата, затем \
             отправьте сообщение ещё раз."
        ),
        Phrase::ModelUnavailable => {
            "Модель AI сейчас недоступна или отвечает слишком медленно. Отправьте сообщение ещё раз через минуту."
                .into()
        }
        Phrase::ModelRefused(detail) => format!(
            "Сервер модели отклонил запрос ({detail}). Проверьте название модели в профиле или обратитесь к \
             администратору платформы."
        ),
        Phrase::KeyAccepted(url) => format!("Сервер {url} принял ключ."),
        Phrase::KeyRejected { url, detail } => format!(
            "Сервер {url} отклонил этот ключ ({detail}). Проверьте, что скопировали ключ целиком, или создайте \
             новый у провайдера."
        ),
        Phrase::KeyUnchecked { url, detail } => format!(
            "Сервер {url} недоступен ({detail}), поэтому ключ не проверен. Проверьте базовый URL в профиле или \
             проверьте ключ позже."
        ),
        Phrase::KeyMissing => "Ключ не сохранён: сначала добавьте свой ключ OpenAI.".into(),
        Phrase::AddressInside { host, address } => {
            let what = if *host == address.to_string() {
                format!("{address} — адрес")
            } else {
                format!("{host} указывает на {address} — адрес")
            };
            format!(
                "{what} внутри сети сервера, а выбранный вами сервер модели не может его использовать: укажите в \
                 профиле публичный адрес своего сервера модели как базовый URL или попросите администратора \
                 платформы разрешить этот адрес (ASSISTCHAT_OUTBOUND_ALLOW)."
            )
        }
        Phrase::AnswerInChannel(channel) => format!(
            "Этот разговор идёт в канале {channel}: отвечайте там. Чтобы поговорить здесь, начните новый разговор."
        ),
        Phrase::NothingToRegenerate => {
            "В этом разговоре нет вашего сообщения, на которое можно ответить заново: сначала напишите сообщение."
                .into()
        }
        Phrase::ReplyBeingWritten => {
            "Ответ ещё пишется: дождитесь его или остановите, затем попросите ответить заново.".into()
        }
        Phrase::ModelNotOffered { model, offered } => {
            format!("Модель «{model}» вам недоступна. Выберите одну из этих: {offered}.")
        }
        Phrase::ModelsUnavailable => "Сервер модели не сообщил список своих моделей: проверьте базовый URL и ключ в \
                                      профиле или попробуйте через минуту."
            .into(),
        Phrase::HostUnresolved(host) => format!(
            "Имя {host} не разрешается ни в один адрес: проверьте хост базового URL в профиле или попросите \
             администратора платформы разрешить его (ASSISTCHAT_OUTBOUND_ALLOW)."
        ),
    }
}

/// Whole seconds, rounded up, and at least one.
fn seconds(duration: Duration) -> u64 {
    (duration.as_secs() + u64::from(duration.subsec_nanos() > 0)).max(1)
}

/// Whole hours and the minutes after them, rounded up to the next minute.
fn hours_minutes(duration: Duration) -> (u64, u64) {
    let minutes = duration.as_secs().div_ceil(60);
    (minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_and_the_time_left() {
        let spent = Phrase::DailyQuotaSpent { quota: 1000, resets_in: Duration::from_secs(2 * 3600 + 61) };
        assert!(say("en", &spent).contains("in 2 h 2 min"));
        assert!(say("ru", &spent).contains("через 2 ч 2 мин"));
        assert_eq!(say("de", &Phrase::KeyMissing), say("en", &Phrase::KeyMissing));
        assert_ne!(say("ru", &Phrase::KeyMissing), say("en", &Phrase::KeyMissing));
        let busy = Phrase::TooManyCalls { limit: 4, retry_in: Duration::from_millis(4500) };
        assert!(say("en", &busy).contains("4 of your messages") && say("en", &busy).contains("in 5 s"));
        assert!(say("ru", &busy).contains("через 5 с"));
    }
}
