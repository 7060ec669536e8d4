//! The contact list as rows: each contact one row, in the order the API
//! gave them. `--mask` rewrites what it finds in every field but the
//! `id`, and `--pseudonymize` writes the `id` as the chat records write
//! `customer_id`, so the two tables still join.

use std::borrow::Cow;

use super::mask::{MaskCounts, Masker};
use super::pseudonym::Pseudonymizer;
use super::{ContactRow, Encoded, Row, RowEncoder, Source};
use crate::api::classify::classify_body;
use crate::api::contacts::{Contact, ContactAnswer, ListRequest};
use crate::api::json::List;
use crate::api::{CodePolicy, Request, Verdict};

/// The contact list, narrowed by its filters.
#[derive(Debug, Clone)]
pub struct ContactList {
    request: ListRequest,
    mask: Option<Masker>,
    pseudonym: Option<Pseudonymizer>,
}

impl ContactList {
    pub fn new(
        request: ListRequest,
        mask: Option<Masker>,
        pseudonym: Option<Pseudonymizer>,
    ) -> ContactList {
        ContactList {
            request,
            mask,
            pseudonym,
        }
    }
}

/// Rewrite the personal data `mask` finds in every contact's fields but
/// its `id`.
fn mask_answer(answer: &mut ContactAnswer<'_>, mask: &Masker) -> MaskCounts {
    let mut counts = MaskCounts::new();
    if let List::Items(contacts) = &mut answer.data {
        for c in contacts.iter_mut() {
            for field in [&mut c.name, &mut c.mobile, &mut c.email] {
                mask.mask_field(field, &mut counts);
            }
            mask.mask_extra(&mut c.extra, &mut counts);
        }
    }
    counts
}

impl Source for ContactList {
    fn request(&self) -> &dyn Request {
        &self.request
    }

    fn encode(
        &self,
        _item: &str,
        body: &[u8],
        codes: &CodePolicy,
        encoder: &dyn RowEncoder,
        out: &mut Vec<u8>,
    ) -> Result<Encoded, Verdict> {
        let mut answer = classify_body::<Contact>(body, codes)?;
        let masked = match &self.mask {
            Some(mask) => mask_answer(&mut answer, mask),
            None => MaskCounts::new(),
        };
        let contacts = answer.contacts();
        let ids: Vec<Cow<'_, str>> = contacts
            .iter()
            .map(|c| match &self.pseudonym {
                Some(p) if !c.id.as_str().is_empty() => Cow::Owned(p.pseudonym(c.id.as_str())),
                _ => Cow::Borrowed(c.id.as_str()),
            })
            .collect();
        let mut rows = contacts.iter().zip(&ids).map(|(c, id)| {
            Row::Contact(ContactRow {
                id,
                name: c.name.as_str(),
                mobile: c.mobile.as_str(),
                email: c.email.as_str(),
                extra: &c.extra,
            })
        });
        let rows = encoder.rows(&mut rows, out);
        Ok(Encoded {
            rows,
            masked,
            ..Encoded::default()
        })
    }

    fn scrub(&self, text: &str) -> String {
        match &self.mask {
            Some(mask) => mask.mask(text, &mut MaskCounts::new()).into_owned(),
            None => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{encoder, CsvOptions, Format};
    use crate::record::mask::MaskStyle;
    use crate::record::Column;

    fn csv(list: &ContactList, columns: &[Column], body: &str) -> (String, Encoded) {
        let enc = encoder(Format::Csv, columns, CsvOptions::default());
        let mut out = Vec::new();
        let encoded = list
            .encode("", body.as_bytes(), &CodePolicy::default(), &*enc, &mut out)
            .unwrap();
        (String::from_utf8(out).unwrap(), encoded)
    }

    const BODY: &str = r#"{"Code":0,"Data":[
        {"email":null,"id":"a1","mobile":"13812345678","name":"访客290"},
        {"email":"li@example.com","id":"b2","mobile":"","name":"李 13912345678","vip":"13712345678"}],
        "Msg":"ok"}"#;

    #[test]
    fn contacts_become_rows_in_order_with_the_asked_columns() {
        let list = ContactList::new(ListRequest::default(), None, None);
        let (text, encoded) = csv(&list, &Column::CONTACTS, BODY);
        assert_eq!(text, "a1,访客290\nb2,李 13912345678\n");
        assert_eq!(encoded.rows, 2);
        let all = [Column::Id, Column::Mobile, Column::Email, Column::Extra];
        let (text, _) = csv(&list, &all, BODY);
        assert_eq!(
            text,
            "a1,13812345678,,{}\nb2,,li@example.com,\"{\"\"vip\"\":\"\"13712345678\"\"}\"\n"
        );
    }

    #[test]
    fn the_mask_rewrites_every_field_but_the_id() {
        let mask = Masker::parse("pii", MaskStyle::Tag).unwrap();
        let list = ContactList::new(ListRequest::default(), Some(mask), None);
        let all = [
            Column::Id,
            Column::Name,
            Column::Mobile,
            Column::Email,
            Column::Extra,
        ];
        let (text, encoded) = csv(&list, &all, BODY);
        assert!(
            !text.contains("138123") && !text.contains("139123"),
            "{text}"
        );
        assert!(!text.contains("137123") && !text.contains("li@"), "{text}");
        assert!(text.starts_with("a1,访客290,[MOBILE],,{}\n"), "{text}");
        assert_eq!(
            encoded.masked.values().sum::<u64>(),
            4,
            "{:?}",
            encoded.masked
        );
    }
}
