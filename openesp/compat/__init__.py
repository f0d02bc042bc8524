"""Drop-in faces for code written against other providers: SendGrid's v3 mail API and Mailjet's
v3.1 send API, answered in their shapes and accepted through openesp's own path
(``messaging.submit``): one Message per recipient, sent by the key owner's effective provider."""
