//! `/app/venue`: the venue of the signed-in organization, as openevent uses it, and (for
//! managers) its edit form.
//!
//! The form holds the whole venue as TOML, the venue file's shape (`Venue::to_toml`). A save
//! (manager only, CSRF-checked like every form) reads the text into a `VenueSpec` and hands it to
//! the engine, which validates it as `openevent venue check` does and stores it as the
//! organization's next venue revision. A refused save answers this same page with the text as
//! sent and each problem naming its field: 422 when the venue is not valid, 409 when another
//! revision was saved after the form was opened (its hidden `base_revision`, 0 for the server's
//! venue file). Nothing is stored then.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use openevent_core::venue::VenueSpec;
use openevent_service::{VenueBundle, VenueSaveError};
use openevent_store::Store;
use serde::Deserialize;

use super::{Current, PageError, html, normalise_newlines, venue_of};
use crate::WebState;
use crate::session::{Flash, FlashKind};
use crate::views::{VenueForm, VenuePage, venue_view};

/// A venue larger than this is refused before it is parsed (the reference venue is under 8 KiB;
/// a venue with many rooms, products and answers in five languages stays well below).
const MAX_VENUE_BYTES: usize = 512 * 1024;

/// The venue page; `form` replaces the current venue's text in the edit box (a refused save).
fn render<S>(
    st: &WebState<S>,
    who: &Current,
    bundle: &VenueBundle,
    form: Option<VenueForm>,
    status: StatusCode,
) -> Response {
    let venue = &bundle.venue;
    let can_manage = who.is_manager();
    let page = VenuePage {
        chrome: who.chrome(st, format!("Venue {}", venue.name()), "venue"),
        venue: venue_view(venue),
        revision: bundle.revision,
        // Viewers see no form: the text is only rendered for managers.
        form: match form {
            Some(f) => f,
            None if can_manage => VenueForm::with_text(venue.to_toml()),
            None => VenueForm::default(),
        },
        base_revision: bundle.revision.unwrap_or(0),
        can_manage,
        csrf: who.session.csrf.clone(),
    };
    html(status, &page)
}

pub async fn venue<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
) -> Result<Response, PageError> {
    let bundle = venue_of(&st, &who).await?;
    Ok(render(&st, &who, &bundle, None, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct VenueIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    venue: String,
    /// The revision the edit started from; 0 for the server's venue file.
    base_revision: Option<String>,
}

/// Saves the edited venue as the organization's next revision.
pub async fn save_venue<S: Store>(
    State(st): State<WebState<S>>,
    who: Current,
    form: Result<Form<VenueIn>, FormRejection>,
) -> Result<Response, PageError> {
    let form = who.manager_form(form)?;
    let base = form
        .base_revision
        .as_deref()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .ok_or_else(|| {
            PageError::bad_request("The form lacks the venue revision it edits. Reload the page.")
                .for_user(&who)
        })?;
    let text = normalise_newlines(&form.venue);
    // One save at a time in this process, so that two managers' saves cannot both pass the
    // revision check below and the second silently undo the first.
    let _one_at_a_time = st.venue_saves.lock().await;
    let current = venue_of(&st, &who).await?;
    let refuse = |form: VenueForm, status| Ok(render(&st, &who, &current, Some(form), status));
    if text.trim().is_empty() {
        return refuse(
            VenueForm::refused(
                text,
                "The venue was not saved: the text is empty. Reload the page to start from the \
                 current venue.",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if text.len() > MAX_VENUE_BYTES {
        return refuse(
            VenueForm::refused(
                text,
                format!(
                    "The venue was not saved: it is longer than {} KiB.",
                    MAX_VENUE_BYTES / 1024
                ),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let now = current.revision.unwrap_or(0);
    if base != now {
        // Someone saved meanwhile: saving this text would silently undo their change.
        let why = format!(
            "The venue was not saved: revision {now} was saved after you opened {}. Your text \
             is kept below and the settings above are revision {now}; compare them, then save \
             again to replace it.",
            if base == 0 {
                "the server's venue file".to_owned()
            } else {
                format!("revision {base}")
            }
        );
        return refuse(VenueForm::refused(text, why), StatusCode::CONFLICT);
    }
    let spec: VenueSpec = match toml::from_str(&text) {
        Ok(spec) => spec,
        Err(e) => {
            return refuse(
                VenueForm::syntax(text, &e),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    if current.revision.is_some() && &spec == current.venue.spec() {
        st.sessions.set_flash(
            &who.session.id,
            Flash {
                kind: FlashKind::Success,
                text: format!(
                    "Nothing changed: the venue is the same as revision {now}, so no new \
                     revision was saved."
                ),
            },
        );
        return Ok(Redirect::to("/app/venue").into_response());
    }
    // Kept to name the rooms and products the problems are about.
    let sent = spec.clone();
    match st.app.engine.save_venue(&who.principal.org, spec).await {
        Ok(revision) => {
            let text = if current.revision.is_none() {
                format!(
                    "Saved: the organization now uses its own venue, revision {revision}, in \
                     place of the server's venue file. New offers are priced with it; offers \
                     already made keep their prices."
                )
            } else {
                format!(
                    "Saved: revision {revision} of the venue is now in use. New offers are \
                     priced with it; offers already made keep their prices."
                )
            };
            st.sessions.set_flash(
                &who.session.id,
                Flash {
                    kind: FlashKind::Success,
                    text,
                },
            );
            Ok(Redirect::to("/app/venue").into_response())
        }
        Err(VenueSaveError::Invalid(e)) => refuse(
            VenueForm::invalid(text, &e, Some(&sent)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(VenueSaveError::Store(e)) => Err(PageError::internal(&e).for_user(&who)),
    }
}

super::has_csrf!(VenueIn);
