package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// authenticator checks credentials: user/password pairs (Basic), static
// bearer tokens, and the bearer tokens it issues at handshake.
type authenticator struct {
	users   map[string]string
	tokens  []string
	sign    *signer
	ttl     time.Duration
	enabled bool
}

func newAuthenticator(opts Options, sg *signer) (*authenticator, error) {
	for u, p := range opts.Users {
		if u == "" || strings.ContainsAny(u, ":\n") {
			return nil, fmt.Errorf("invalid user name %q", u)
		}
		if p == "" {
			return nil, fmt.Errorf("user %q has an empty password", u)
		}
	}
	for _, t := range opts.Tokens {
		if len(t) < 8 {
			return nil, fmt.Errorf("static bearer tokens must be at least 8 characters")
		}
	}
	return &authenticator{users: opts.Users, tokens: opts.Tokens, sign: sg, ttl: opts.TicketTTL, enabled: opts.AuthEnabled()}, nil
}

type identity struct{ user string }

type identityKey struct{}

func (a *authenticator) checkPassword(user, pass string) bool {
	want, ok := a.users[user]
	if !ok {
		// Spend comparable time on unknown users.
		_ = subtle.ConstantTimeCompare([]byte(pass), []byte(pass))
		return false
	}
	if strings.HasPrefix(want, "$2") {
		return bcrypt.CompareHashAndPassword([]byte(want), []byte(pass)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
}

type issuedToken struct {
	User string `json:"u"`
	Exp  int64  `json:"e"`
}

const tokenPrefix = "lf1."

func (a *authenticator) issue(user string) (string, error) {
	blob, err := a.sign.seal("token", issuedToken{User: user, Exp: time.Now().Add(a.ttl).Unix()})
	if err != nil {
		return "", err
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(blob), nil
}

func (a *authenticator) checkBearer(tok string) (identity, error) {
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			return identity{user: "token"}, nil
		}
	}
	if strings.HasPrefix(tok, tokenPrefix) {
		blob, err := base64.RawURLEncoding.DecodeString(tok[len(tokenPrefix):])
		if err == nil {
			var it issuedToken
			if err := a.sign.open("token", blob, &it); err == nil {
				if time.Now().Unix() > it.Exp {
					return identity{}, fmt.Errorf("%w: bearer token expired; authenticate again", errUnauthenticated)
				}
				return identity{user: it.User}, nil
			}
		}
	}
	return identity{}, fmt.Errorf("%w: bearer token is not valid", errUnauthenticated)
}

func parseBasic(cred string) (string, string, error) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(cred); err != nil {
			return "", "", fmt.Errorf("%w: malformed Basic credentials", errUnauthenticated)
		}
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", fmt.Errorf("%w: malformed Basic credentials", errUnauthenticated)
	}
	return u, p, nil
}

func authHeader(ctx context.Context) (scheme, cred string) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return "", ""
	}
	scheme, cred, _ = strings.Cut(strings.TrimSpace(vals[0]), " ")
	return strings.ToLower(scheme), strings.TrimSpace(cred)
}

// check authenticates a call other than Handshake.
func (a *authenticator) check(ctx context.Context) (context.Context, error) {
	if !a.enabled {
		return ctx, nil
	}
	scheme, cred := authHeader(ctx)
	switch scheme {
	case "bearer":
		id, err := a.checkBearer(cred)
		if err != nil {
			return ctx, err
		}
		return context.WithValue(ctx, identityKey{}, id), nil
	case "basic":
		u, p, err := parseBasic(cred)
		if err != nil {
			return ctx, err
		}
		if !a.checkPassword(u, p) {
			return ctx, fmt.Errorf("%w: wrong user name or password", errUnauthenticated)
		}
		return context.WithValue(ctx, identityKey{}, identity{user: u}), nil
	case "":
		return ctx, fmt.Errorf("%w: this server requires authentication (user/password or bearer token)", errUnauthenticated)
	}
	return ctx, fmt.Errorf("%w: unsupported authorization scheme %q", errUnauthenticated, scheme)
}

// handshake answers Basic credentials with a bearer token in the
// authorization header, and accepts a Bearer token as it is.
func (s *Server) handshake(stream flight.FlightService_HandshakeServer) error {
	ctx := stream.Context()
	scheme, cred := authHeader(ctx)
	var token string
	switch scheme {
	case "basic":
		u, p, err := parseBasic(cred)
		if err != nil {
			return toStatus(err)
		}
		if s.auth.enabled && !s.auth.checkPassword(u, p) {
			s.metrics.authFailure(ctx)
			return toStatus(fmt.Errorf("%w: wrong user name or password", errUnauthenticated))
		}
		if token, err = s.auth.issue(u); err != nil {
			return toStatus(err)
		}
	case "bearer":
		if s.auth.enabled {
			if _, err := s.auth.checkBearer(cred); err != nil {
				s.metrics.authFailure(ctx)
				return toStatus(err)
			}
		}
		token = cred
	case "":
		if s.auth.enabled {
			return toStatus(fmt.Errorf("%w: send Basic credentials or a Bearer token in the authorization header", errUnauthenticated))
		}
	default:
		return toStatus(fmt.Errorf("%w: unsupported authorization scheme %q", errUnauthenticated, scheme))
	}
	if token != "" {
		if err := grpc.SetHeader(ctx, metadata.Pairs("authorization", "Bearer "+token)); err != nil {
			return toStatus(err)
		}
	}
	// Some clients (the Node one) wait for a response message before they
	// finish the handshake; it carries the token too.
	return stream.Send(&flight.HandshakeResponse{Payload: []byte(token)})
}
