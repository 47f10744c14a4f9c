//! A resource's states as the domain knows them: what its owner wants, what it does, in error
//! what the owner can do, and the owner's bot switch. The store decodes them once from the names
//! it keeps, and binds them by those names; the services name them in the proto. The reasons
//! core itself gives for a state ([`Reason`]) are here too.

use std::fmt;

/// A stored name that is none of a state's.
#[derive(Debug, thiserror::Error)]
#[error("\"{0}\" is not a stored resource state")]
pub struct UnknownName(pub String);

/// Declares a state's enum with its stored names, decoded by the store and bound as text.
macro_rules! stored_names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $stored:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The name the store keeps.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $stored),+
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownName;

            fn try_from(stored: String) -> Result<Self, UnknownName> {
                match stored.as_str() {
                    $($stored => Ok(Self::$variant),)+
                    _ => Err(UnknownName(stored)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_names! {
    /// What the owner wants of a resource.
    Desired {
        /// Run it while the owner's bot is on.
        Active = "active",
        /// Keep it stopped.
        Paused = "paused",
    }
}

stored_names! {
    /// What a resource does.
    State {
        /// Being started, or waiting for its provider.
        Pending = "pending",
        /// Running.
        Ready = "ready",
        /// Not running, for a reason in its detail.
        Error = "error",
        /// Stopped on purpose.
        Paused = "paused",
    }
}

stored_names! {
    /// In error, what the owner can do about it.
    Action {
        /// Nothing said: not in error, or the provider did not say.
        Unstated = "",
        /// Nothing: it recovers by itself.
        Nothing = "none",
        /// Correct the settings.
        FixSettings = "fix_settings",
        /// Connect the account again.
        Reconnect = "reconnect",
        /// Wait for the provider's edge to come back.
        WaitForProvider = "wait_for_provider",
    }
}

impl Desired {
    /// `Active` when `active`, else `Paused`.
    pub fn active(active: bool) -> Self {
        if active { Self::Active } else { Self::Paused }
    }
}

stored_names! {
    /// A user's bot switch.
    Switch {
        /// Their resources run (those that are active).
        On = "1",
        /// None of them runs.
        Off = "0",
    }
}

impl Switch {
    /// `On` when `on`, else `Off`.
    pub fn on(on: bool) -> Self {
        if on { Self::On } else { Self::Off }
    }
}

// The switch is stored as 1 or 0.
impl TryFrom<i64> for Switch {
    type Error = UnknownName;

    fn try_from(stored: i64) -> Result<Self, UnknownName> {
        Self::try_from(stored.to_string())
    }
}

impl From<Switch> for i64 {
    fn from(switch: Switch) -> Self {
        i64::from(switch == Switch::On)
    }
}

/// A reason core itself gives for a resource's state, as the code it stores and sends with the
/// state (`Resource.state_reason`). Edges report codes of their own, so a stored reason is text;
/// the web edge has words for each of these (`reason.<CODE>` in its catalogue), which a test of
/// the platform checks over [`Reason::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Sent to its edge, which has not reported on it yet.
    Starting,
    /// Its owner paused it.
    Paused,
    /// Its owner's bot is off.
    BotStopped,
    /// Core has just started and its provider's edges are still coming back.
    ProviderConnecting,
    /// No edge of its provider is attached.
    ProviderOffline,
    /// Its settings no longer fit what its provider asks for.
    SettingsInvalid,
    /// Its edge stopped it without being asked.
    StoppedByProvider,
}

impl Reason {
    /// Every reason core gives.
    pub const ALL: [Self; 7] = [
        Self::Starting,
        Self::Paused,
        Self::BotStopped,
        Self::ProviderConnecting,
        Self::ProviderOffline,
        Self::SettingsInvalid,
        Self::StoppedByProvider,
    ];

    /// The code stored and sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::Paused => "PAUSED",
            Self::BotStopped => "BOT_STOPPED",
            Self::ProviderConnecting => "PROVIDER_CONNECTING",
            Self::ProviderOffline => "PROVIDER_OFFLINE",
            Self::SettingsInvalid => "SETTINGS_INVALID",
            Self::StoppedByProvider => "STOPPED_BY_PROVIDER",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_read_back_and_unknown_ones_are_refused() {
        for desired in [Desired::Active, Desired::Paused] {
            assert_eq!(Desired::try_from(desired.as_str().to_owned()).unwrap(), desired);
        }
        for state in [State::Pending, State::Ready, State::Error, State::Paused] {
            assert_eq!(State::try_from(state.to_string()).unwrap(), state);
        }
        for action in
            [Action::Unstated, Action::Nothing, Action::FixSettings, Action::Reconnect, Action::WaitForProvider]
        {
            assert_eq!(Action::try_from(action.as_str().to_owned()).unwrap(), action);
        }
        assert!(State::try_from("running".to_owned()).is_err());
        assert_eq!(Switch::try_from(1).unwrap(), Switch::On);
        assert_eq!(i64::from(Switch::Off), 0);
        assert!(Switch::try_from(2).is_err());
    }

    #[test]
    fn core_sends_its_reasons_by_the_codes_the_pages_know() {
        let codes = Reason::ALL.map(Reason::as_str);
        let known = [
            "STARTING",
            "PAUSED",
            "BOT_STOPPED",
            "PROVIDER_CONNECTING",
            "PROVIDER_OFFLINE",
            "SETTINGS_INVALID",
            "STOPPED_BY_PROVIDER",
        ];
        assert_eq!(codes, known);
    }
}
