"""The compatible endpoints: plain Django views, because their answers must be shaped exactly as
SendGrid's and Mailjet's (a 202 with no body at all, their error objects), not as openesp's API."""
