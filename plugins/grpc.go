package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pluginv1 "meshgym/plugins/proto/v1"
)

// MagicCookieKey and MagicCookieValue are the go-plugin handshake cookie: a
// plugin started without MagicCookieKey=MagicCookieValue in its environment
// (a user running it by hand) says it is a plugin and exits 1. The value is
// fixed for every protocol version; ProtocolVersion tells versions apart.
const (
	MagicCookieKey   = "MESHGYM_PLUGIN"
	MagicCookieValue = "b5e3c1a9-meshgym-mesh-plugin-7f2d"
)

// PluginKey is the name the mesh plugin is dispensed under in go-plugin's
// plugin set (one per process).
const PluginKey = "mesh"

// Handshake is the go-plugin handshake of meshgym mesh plugins (see
// https://pkg.go.dev/github.com/hashicorp/go-plugin#HandshakeConfig).
var Handshake = handshake(ProtocolVersion)

func handshake(version int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(version),
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// GRPCPlugin is the go-plugin plugin.GRPCPlugin of the mesh protocol
// (service meshgym.plugin.v1.MeshPlugin). On the plugin side it serves Impl;
// on the host side it dispenses a Mesh whose errors are *Error with Plugin
// set to Name.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the mesh served (plugin side only).
	Impl Mesh
	// Name is the plugin name errors carry (host side only).
	Name string
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers Impl as the MeshPlugin service on s.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("plugins: GRPCPlugin.Impl is nil")
	}
	pluginv1.RegisterMeshPluginServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient returns a Mesh speaking to the MeshPlugin service over c.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &remote{name: p.Name, c: pluginv1.NewMeshPluginClient(c)}, nil
}

// codeTable is how each Code travels: as a gRPC status code and as the
// proto's ErrorCode. CodeInternal is the fallback both ways.
var codeTable = []struct {
	code Code
	grpc codes.Code
	wire pluginv1.ErrorCode
}{
	{CodeInvalid, codes.InvalidArgument, pluginv1.ErrorCode_ERROR_CODE_INVALID},
	{CodeUnsupported, codes.Unimplemented, pluginv1.ErrorCode_ERROR_CODE_UNSUPPORTED},
	{CodeUnavailable, codes.Unavailable, pluginv1.ErrorCode_ERROR_CODE_UNAVAILABLE},
	{CodeCanceled, codes.Canceled, pluginv1.ErrorCode_ERROR_CODE_CANCELED},
}

// codeToGRPC maps a Code onto the gRPC status code it travels as.
func codeToGRPC(c Code) codes.Code {
	for _, r := range codeTable {
		if r.code == c {
			return r.grpc
		}
	}
	return codes.Internal
}

// codeFromGRPC maps a gRPC status code back onto a Code (a status without
// an ErrorDetail: the transport's or gRPC's own error); a deadline is a
// cancellation.
func codeFromGRPC(c codes.Code) Code {
	if c == codes.DeadlineExceeded {
		return CodeCanceled
	}
	for _, r := range codeTable {
		if r.grpc == c {
			return r.code
		}
	}
	return CodeInternal
}

func codeToWire(c Code) pluginv1.ErrorCode {
	for _, r := range codeTable {
		if r.code == c {
			return r.wire
		}
	}
	return pluginv1.ErrorCode_ERROR_CODE_INTERNAL
}

func codeFromWire(c pluginv1.ErrorCode) Code {
	for _, r := range codeTable {
		if r.wire == c {
			return r.code
		}
	}
	return CodeInternal
}

// toStatus turns a plugin's error into the gRPC status it returns: an
// *Error keeps its Code, a context error is CodeCanceled, anything else is
// CodeInternal. The status carries an ErrorDetail.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code, msg := CodeInternal, err.Error()
	var pe *Error
	switch {
	case errors.As(err, &pe):
		code, msg = pe.Code, pe.Msg
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = CodeCanceled
	}
	st := status.New(codeToGRPC(code), msg)
	if withDetail, derr := st.WithDetails(&pluginv1.ErrorDetail{Code: codeToWire(code), Message: msg}); derr == nil {
		st = withDetail
	}
	return st.Err()
}

// server serves a Mesh as the MeshPlugin gRPC service.
type server struct {
	pluginv1.UnimplementedMeshPluginServer
	impl Mesh
}

func (s *server) Info(ctx context.Context, _ *pluginv1.InfoRequest) (*pluginv1.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.InfoResponse{Info: infoToWire(info)}, nil
}

func (s *server) Install(ctx context.Context, r *pluginv1.InstallRequest) (*pluginv1.Empty, error) {
	err := s.impl.Install(ctx, InstallRequest{Platform: r.GetPlatform(), Profile: r.GetProfile(), Cluster: clusterFromWire(r.GetCluster())})
	return &pluginv1.Empty{}, toStatus(err)
}

func (s *server) Uninstall(ctx context.Context, r *pluginv1.InstallRequest) (*pluginv1.Empty, error) {
	err := s.impl.Uninstall(ctx, InstallRequest{Platform: r.GetPlatform(), Profile: r.GetProfile(), Cluster: clusterFromWire(r.GetCluster())})
	return &pluginv1.Empty{}, toStatus(err)
}

func (s *server) Render(ctx context.Context, r *pluginv1.RenderRequest) (*pluginv1.Rendered, error) {
	req, err := renderRequestFromWire(r)
	if err != nil {
		return nil, toStatus(err)
	}
	out, err := s.impl.Render(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	return renderedToWire(out), nil
}

func (s *server) Apply(ctx context.Context, r *pluginv1.ApplyRequest) (*pluginv1.Empty, error) {
	req, err := applyRequestFromWire(r)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.Empty{}, toStatus(s.impl.Apply(ctx, req))
}

func (s *server) Remove(ctx context.Context, r *pluginv1.ApplyRequest) (*pluginv1.Empty, error) {
	req, err := applyRequestFromWire(r)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.Empty{}, toStatus(s.impl.Remove(ctx, req))
}

func (s *server) ScrapeTargets(ctx context.Context, r *pluginv1.ScrapeRequest) (*pluginv1.ScrapeTargetsResponse, error) {
	ts, err := s.impl.ScrapeTargets(ctx, ScrapeRequest{Platform: r.GetPlatform(), Components: componentsFromWire(r.GetComponents()), Cluster: clusterFromWire(r.GetCluster())})
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pluginv1.ScrapeTargetsResponse{}
	for _, t := range ts {
		out.Targets = append(out.Targets, &pluginv1.ScrapeTarget{Component: t.Component, Url: t.URL, Labels: t.Labels})
	}
	return out, nil
}

func (s *server) MetricMapping(ctx context.Context, _ *pluginv1.MetricMappingRequest) (*pluginv1.MetricMappings, error) {
	ms, err := s.impl.MetricMapping(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return mappingsToWire(ms), nil
}

func (s *server) Events(r *pluginv1.EventsRequest, stream grpc.ServerStreamingServer[pluginv1.PolicyEvent]) error {
	err := s.impl.Events(stream.Context(), EventsRequest{Components: componentsFromWire(r.GetComponents()), Cluster: clusterFromWire(r.GetCluster())},
		func(e PolicyEvent) error { return stream.Send(eventToWire(e)) })
	return toStatus(err)
}

// remote is the host side: a Mesh over a MeshPlugin gRPC client.
type remote struct {
	name string
	c    pluginv1.MeshPluginClient
	// pid is the plugin process ID (0 in process); exited reports whether
	// the plugin process is known to be gone (nil in process).
	pid    int
	exited func() bool
}

var _ Mesh = (*remote)(nil)

// err turns a gRPC error into an *Error naming the plugin.
func (r *remote) err(err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*Error); ok { // a local encoding failure, already typed
		out := *pe
		out.Plugin = r.name
		return &out
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Plugin: r.name, Code: CodeInternal, Msg: err.Error()}
	}
	for _, d := range st.Details() {
		if ed, ok := d.(*pluginv1.ErrorDetail); ok {
			return &Error{Plugin: r.name, Code: codeFromWire(ed.GetCode()), Msg: ed.GetMessage()}
		}
	}
	// No ErrorDetail: the error is gRPC's or the transport's, not the
	// plugin's.
	if r.exited != nil && r.exited() || st.Code() == codes.Unavailable {
		return &Error{Plugin: r.name, Code: CodeUnavailable,
			Msg: fmt.Sprintf("plugin process%s is not reachable (it exited or closed its connection): %s", r.pidText(), st.Message())}
	}
	return &Error{Plugin: r.name, Code: codeFromGRPC(st.Code()), Msg: st.Message()}
}

func (r *remote) pidText() string {
	if r.pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", r.pid)
}

func (r *remote) Info(ctx context.Context) (Info, error) {
	resp, err := r.c.Info(ctx, &pluginv1.InfoRequest{})
	if err != nil {
		return Info{}, r.err(err)
	}
	return infoFromWire(resp.GetInfo()), nil
}

func (r *remote) Install(ctx context.Context, req InstallRequest) error {
	_, err := r.c.Install(ctx, &pluginv1.InstallRequest{Platform: req.Platform, Profile: req.Profile, Cluster: clusterToWire(req.Cluster)})
	return r.err(err)
}

func (r *remote) Uninstall(ctx context.Context, req InstallRequest) error {
	_, err := r.c.Uninstall(ctx, &pluginv1.InstallRequest{Platform: req.Platform, Profile: req.Profile, Cluster: clusterToWire(req.Cluster)})
	return r.err(err)
}

func (r *remote) Render(ctx context.Context, req RenderRequest) (Rendered, error) {
	w, err := renderRequestToWire(req)
	if err != nil {
		return Rendered{}, r.err(Errorf(CodeInvalid, "%v", err))
	}
	resp, err := r.c.Render(ctx, w)
	if err != nil {
		return Rendered{}, r.err(err)
	}
	return renderedFromWire(resp), nil
}

func (r *remote) Apply(ctx context.Context, req ApplyRequest) error {
	w, err := applyRequestToWire(req)
	if err != nil {
		return r.err(Errorf(CodeInvalid, "%v", err))
	}
	_, err = r.c.Apply(ctx, w)
	return r.err(err)
}

func (r *remote) Remove(ctx context.Context, req ApplyRequest) error {
	w, err := applyRequestToWire(req)
	if err != nil {
		return r.err(Errorf(CodeInvalid, "%v", err))
	}
	_, err = r.c.Remove(ctx, w)
	return r.err(err)
}

func (r *remote) ScrapeTargets(ctx context.Context, req ScrapeRequest) ([]ScrapeTarget, error) {
	resp, err := r.c.ScrapeTargets(ctx, &pluginv1.ScrapeRequest{Platform: req.Platform, Components: componentsToWire(req.Components), Cluster: clusterToWire(req.Cluster)})
	if err != nil {
		return nil, r.err(err)
	}
	var out []ScrapeTarget
	for _, t := range resp.GetTargets() {
		out = append(out, ScrapeTarget{Component: t.GetComponent(), URL: t.GetUrl(), Labels: t.GetLabels()})
	}
	return out, nil
}

func (r *remote) MetricMapping(ctx context.Context) ([]MetricMapping, error) {
	resp, err := r.c.MetricMapping(ctx, &pluginv1.MetricMappingRequest{})
	if err != nil {
		return nil, r.err(err)
	}
	return mappingsFromWire(resp), nil
}

// Events receives the plugin's event stream and hands each event to send.
// It returns nil when ctx ends or the plugin ends the stream, send's error
// when send fails, and an *Error when the stream fails.
func (r *remote) Events(ctx context.Context, req EventsRequest, send func(PolicyEvent) error) error {
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.c.Events(callCtx, &pluginv1.EventsRequest{Components: componentsToWire(req.Components), Cluster: clusterToWire(req.Cluster)})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return r.err(err)
	}
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return r.err(err)
		}
		if err := send(eventFromWire(ev)); err != nil {
			return err
		}
	}
}
