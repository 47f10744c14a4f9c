//! What every request passes through before a page or the API sees it: who is asking
//! ([`visitor`]), the CSRF guard ([`csrf`]), the JSON body ([`body`]), the headers and the
//! cross-site check every response gets ([`security`]), and the errors answered as pages or JSON
//! ([`error`]).

pub mod body;
pub mod csrf;
pub mod error;
pub mod security;
pub mod visitor;
