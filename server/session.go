package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pbflight "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
	"github.com/lakeflight/lakeflight/planner"
)

// Sessions are stateless: the options live in a signed cookie that the
// client sends back, so any node can serve any call of a session.
const sessionCookie = "lakeflight_session"

type sessionState struct {
	Catalog string `json:"c,omitempty"`
	Schema  string `json:"s,omitempty"`
	// LookupMode and LookupJoins are the session options lookup_mode
	// (full, partial, none) and lookup_joins (auto, prefer, off).
	LookupMode  string `json:"lm,omitempty"`
	LookupJoins string `json:"lj,omitempty"`
}

// planner is the planner session of these options (checked when set).
func (st sessionState) planner() planner.Session {
	out := planner.Session{Catalog: st.Catalog, Schema: st.Schema}
	if st.LookupMode != "" {
		out.LookupMode, _ = lookup.ParseMode(st.LookupMode)
	}
	out.LookupJoins, _ = planner.ParseLookupJoins(st.LookupJoins)
	return out
}

// session reads the session options of a call. A session cookie that does
// not verify answers Unauthenticated, so connection pools drop the
// connection and start over.
func (s *Server) session(ctx context.Context) (sessionState, error) {
	var st sessionState
	md, _ := metadata.FromIncomingContext(ctx)
	for _, line := range md.Get("cookie") {
		for _, c := range parseCookies(line) {
			if c.Name != sessionCookie || c.Value == "" {
				continue
			}
			blob, err := base64.RawURLEncoding.DecodeString(c.Value)
			if err == nil {
				err = s.sign.open("session", blob, &st)
			}
			if err != nil {
				return sessionState{}, fmt.Errorf("%w: unknown or invalid session; open a new connection", errUnauthenticated)
			}
			return st, nil
		}
	}
	return st, nil
}

func parseCookies(line string) []*http.Cookie {
	cs, err := http.ParseCookie(line)
	if err != nil {
		return nil
	}
	return cs
}

func (s *Server) plannerSession(ctx context.Context) (planner.Session, error) {
	st, err := s.session(ctx)
	return st.planner(), err
}

func (s *Server) setSessionCookie(ctx context.Context, st sessionState, maxAge int) error {
	blob, err := s.sign.seal("session", st)
	if err != nil {
		return err
	}
	c := http.Cookie{Name: sessionCookie, Value: base64.RawURLEncoding.EncodeToString(blob), MaxAge: maxAge}
	return grpc.SetHeader(ctx, metadata.Pairs("set-cookie", c.String()))
}

func (s *Server) SetSessionOptions(ctx context.Context, req *flight.SetSessionOptionsRequest) (*flight.SetSessionOptionsResult, error) {
	st, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	res := &flight.SetSessionOptionsResult{Errors: map[string]*flight.SetSessionOptionsResultError{}}
	fail := func(name string, v pbflight.SetSessionOptionsResult_ErrorValue) {
		res.Errors[name] = &flight.SetSessionOptionsResultError{Value: v}
	}
	for name, val := range req.GetSessionOptions() {
		var str string
		isString := false
		if v, ok := val.GetOptionValue().(*pbflight.SessionOptionValue_StringValue); ok {
			str, isString = v.StringValue, true
		}
		unset := val.GetOptionValue() == nil
		switch strings.ToLower(name) {
		case "catalog":
			switch {
			case unset:
				st.Catalog = ""
			case !isString || !strings.EqualFold(str, s.cat.Name()):
				fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			default:
				st.Catalog = s.cat.Name()
			}
		case "schema":
			switch {
			case unset:
				st.Schema = ""
			case !isString:
				fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			default:
				ok, err := s.cat.NamespaceExists(ctx, catalog.SplitNamespace(str))
				if err != nil || !ok {
					fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
					continue
				}
				st.Schema = str
			}
		case "lookup_mode":
			switch {
			case unset:
				st.LookupMode = ""
			case !isString:
				fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			default:
				if _, err := lookup.ParseMode(str); err != nil {
					fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
					continue
				}
				st.LookupMode = strings.ToLower(strings.TrimSpace(str))
			}
		case "lookup_joins":
			switch {
			case unset:
				st.LookupJoins = ""
			case !isString:
				fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			default:
				if _, err := planner.ParseLookupJoins(str); err != nil {
					fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
					continue
				}
				st.LookupJoins = strings.ToLower(strings.TrimSpace(str))
			}
		default:
			fail(name, flight.SetSessionOptionsResultErrorInvalidName)
		}
	}
	if err := s.setSessionCookie(ctx, st, 0); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Server) GetSessionOptions(ctx context.Context, _ *flight.GetSessionOptionsRequest) (*flight.GetSessionOptionsResult, error) {
	st, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	opts := map[string]*flight.SessionOptionValue{}
	cat := st.Catalog
	if cat == "" {
		cat = s.cat.Name()
	}
	opts["catalog"] = &flight.SessionOptionValue{OptionValue: &pbflight.SessionOptionValue_StringValue{StringValue: cat}}
	if st.Schema != "" {
		opts["schema"] = &flight.SessionOptionValue{OptionValue: &pbflight.SessionOptionValue_StringValue{StringValue: st.Schema}}
	}
	mode := st.LookupMode
	if mode == "" {
		mode = "configured"
	}
	opts["lookup_mode"] = &flight.SessionOptionValue{OptionValue: &pbflight.SessionOptionValue_StringValue{StringValue: mode}}
	joins := st.LookupJoins
	if joins == "" {
		joins = "auto"
	}
	opts["lookup_joins"] = &flight.SessionOptionValue{OptionValue: &pbflight.SessionOptionValue_StringValue{StringValue: joins}}
	return &flight.GetSessionOptionsResult{SessionOptions: opts}, nil
}

func (s *Server) CloseSession(ctx context.Context, _ *flight.CloseSessionRequest) (*flight.CloseSessionResult, error) {
	if _, err := s.session(ctx); err != nil {
		return nil, err
	}
	if err := s.setSessionCookie(ctx, sessionState{}, -1); err != nil {
		return nil, err
	}
	return &flight.CloseSessionResult{Status: flight.CloseSessionResultClosed}, nil
}
