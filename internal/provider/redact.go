package provider

import (
	"net/url"
	"strings"
)

// Redacted replaces a secret in what [RedactURL] returns.
const Redacted = "xxxxx"

// SplitAuthority splits what follows "scheme://" in a URL whose authority
// may list several comma-separated hosts (which net/url refuses): userinfo
// is the authority up to and including its last '@' ("" when it has none),
// hosts what follows, and tail the path, query and fragment.
func SplitAuthority(rest string) (userinfo, hosts, tail string) {
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		return authority[:at+1], authority[at+1:], tail
	}
	return "", authority, tail
}

// RedactURL returns raw, a URL "scheme://[user[:password]@]host...", with
// the password of its user info and the values of the query parameters
// named in secrets replaced by "xxxxx", and any fragment dropped, for logs,
// errors and describe. When the user info cannot be told apart with
// certainty (an unencoded '/' or '@' in a password), everything after the
// scheme is hidden. ok is false when raw (white space trimmed) has no
// "://": the caller decides what a string that is not a URL shows.
func RedactURL(raw string, secrets ...string) (redacted string, ok bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(raw), "://")
	if !ok {
		return "", false
	}
	userinfo, authority, tail := SplitAuthority(rest)
	if strings.Contains(tail, "@") {
		return scheme + "://" + Redacted, true
	}
	if userinfo != "" {
		user, _, hasPass := strings.Cut(strings.TrimSuffix(userinfo, "@"), ":")
		if hasPass {
			user += ":" + Redacted
		}
		authority = user + "@" + authority
	}
	tail, _, _ = strings.Cut(tail, "#")
	path, query, hasQuery := strings.Cut(tail, "?")
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err != nil {
			query = Redacted
		} else {
			for _, k := range secrets {
				if q.Has(k) {
					q.Set(k, Redacted)
				}
			}
			query = q.Encode()
		}
		path += "?" + query
	}
	return scheme + "://" + authority + path, true
}
