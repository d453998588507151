package main

// /broker: the request side of the nexus broker's envelope protocol (specs/nexus-wsclient.md), as the benchmark
// needs it. Every text message is one JSON envelope; a request (an envelope with an id and no in_reply_to) is
// answered at once with "<kind>.result", in_reply_to = the request id, a fresh ts and the request's payload (so
// "echo" gets "echo.result", as the testkit FakeBroker answers it). Everything else (replies, envelopes without an
// id) is dropped, as the broker drops what it has no handler for. Envelopes are decoded and encoded with
// encoding/json in the broker's field order (kind, id, in_reply_to, ts, payload, target_aspect; empty optional
// fields omitted; ts RFC 3339 with nanoseconds). A binary message closes with 1003 "text frames only"; 16
// undecodable frames in a row close with 1008 "too many bad frames"; an inbound message is capped at 1 MiB.

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

type envelope struct {
	Kind         string          `json:"kind"`
	ID           string          `json:"id,omitempty"`
	InReplyTo    string          `json:"in_reply_to,omitempty"`
	TS           time.Time       `json:"ts"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	TargetAspect string          `json:"target_aspect,omitempty"`
}

func broker(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(1 << 20)
	bad := 0
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage {
			closeWith(c, websocket.CloseUnsupportedData, "text frames only")
			return
		}
		var req envelope
		if err := json.Unmarshal(data, &req); err != nil || req.Kind == "" {
			bad++
			if bad >= 16 {
				closeWith(c, websocket.ClosePolicyViolation, "too many bad frames")
				return
			}
			continue
		}
		bad = 0
		if req.ID == "" || req.InReplyTo != "" {
			continue
		}
		reply := envelope{Kind: req.Kind + ".result", InReplyTo: req.ID, TS: time.Now().UTC(), Payload: req.Payload}
		out, err := json.Marshal(&reply)
		if err != nil {
			return
		}
		if err := c.WriteMessage(websocket.TextMessage, out); err != nil {
			return
		}
	}
}

// closeWith sends a close frame with code and reason (bounded) before the caller closes the socket.
func closeWith(c *websocket.Conn, code int, reason string) {
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}
