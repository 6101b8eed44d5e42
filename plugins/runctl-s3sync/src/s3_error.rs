//! What an S3 failure says to the user: the status, the S3 error code and message out of the
//! XML body (rust-s3 hands the whole body over as the error text), and a hint chosen by the
//! code. Nothing from the body reaches the terminal unfiltered.

use s3::error::S3Error;

use crate::{Failure, fail, first_line};

/// The S3 error code and message of an error response body (`<Error><Code>NoSuchBucket</Code>
/// <Message>...</Message>...`); `None` when the body is not one.
fn s3_error_parts(body: &str) -> Option<(String, Option<String>)> {
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = start + body.get(start..)?.find(&format!("</{name}>"))?;
        Some(xml_text(body.get(start..end)?))
    };
    let code = element("Code").filter(|c| !c.is_empty())?;
    Some((code, element("Message").filter(|m| !m.is_empty())))
}

/// XML character data as text: the five predefined entities decoded, controls dropped (the
/// body comes from the network and goes to a terminal).
fn xml_text(raw: &str) -> String {
    raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect()
}

/// What a code means, for servers that send a code without a message (s3s, some MinIO
/// versions): AWS's own wording.
fn known_meaning(code: &str) -> Option<&'static str> {
    Some(match code {
        "NoSuchBucket" => "The specified bucket does not exist.",
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "AccessDenied" => "Access Denied.",
        "ExpiredToken" => "The provided token has expired.",
        _ => return None,
    })
}

/// A listing failure as one line and the hint its S3 error code calls for.
pub fn describe(err: &S3Error, bucket: &str, prefix: &str) -> Failure {
    let target = format!("cannot list s3://{bucket}/{prefix}");
    match err {
        S3Error::HttpFailWithBody(status, body) => {
            let Some((code, message)) = s3_error_parts(body) else {
                let text = xml_text(first_line(body));
                return fail(
                    format!("{target}: HTTP {status}: {text}"),
                    Some("check --endpoint: the answer is not an S3 error"),
                );
            };
            let message = message
                .or_else(|| known_meaning(&code).map(str::to_string))
                .unwrap_or_default();
            let hint = match code.as_str() {
                "NoSuchBucket" => "check the bucket name (and --endpoint / --region)",
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "NotSignedUp"
                | "ExpiredToken"
                | "InvalidToken" => {
                    "check the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or your profile"
                }
                "PermanentRedirect" | "AuthorizationHeaderMalformed" => {
                    "the bucket is in another region: pass --region (or set AWS_REGION)"
                }
                _ => "check --bucket, --endpoint, --region and the credentials",
            };
            fail(
                format!("{target}: HTTP {status} {code}: {message}")
                    .trim_end_matches([' ', ':'])
                    .to_string(),
                Some(hint),
            )
        }
        S3Error::UrlParse(e) => fail(
            format!("{target}: the request URL is not valid ({e})"),
            Some("add --path-style when the endpoint cannot serve the bucket as a host name"),
        ),
        other => fail(
            format!("{target}: {}", first_line(&other.to_string())),
            Some("check --endpoint and the network; for a local server add --path-style"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_message_come_out_of_the_body() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket &amp; key\u{1b}[31m</Message><RequestId>1</RequestId></Error>";
        assert_eq!(
            s3_error_parts(body),
            Some((
                "NoSuchBucket".to_string(),
                Some("The specified bucket & key[31m".to_string())
            ))
        );
        assert_eq!(
            s3_error_parts("<Error><Code>X</Code></Error>"),
            Some(("X".to_string(), None))
        );
        assert_eq!(s3_error_parts("<html>502 Bad Gateway</html>"), None);
        assert_eq!(s3_error_parts("<Code>unclosed"), None);
        let f = describe(
            &S3Error::HttpFailWithBody(
                403,
                "<Error><Code>SignatureDoesNotMatch</Code></Error>".into(),
            ),
            "b",
            "p/",
        );
        assert!(
            f.message.starts_with(
                "cannot list s3://b/p/: HTTP 403 SignatureDoesNotMatch: The request signature"
            ),
            "{}",
            f.message
        );
        let f = describe(
            &S3Error::HttpFailWithBody(500, "<Error><Code>Weird</Code></Error>".into()),
            "b",
            "",
        );
        assert_eq!(f.message, "cannot list s3://b/: HTTP 500 Weird");
    }
}
