package all

import (
	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/command"
	"github.com/mailplan/mailplan/resources/dns"
	"github.com/mailplan/mailplan/resources/dnscheck"
	"github.com/mailplan/mailplan/resources/file"
	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/service"
	"github.com/mailplan/mailplan/resources/smtpprobe"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// Registry returns a registry of every resource type, sharing the pool's
// connections.
func Registry(p *pool.Pool) *resource.Registry {
	dc := dnsclient.NewPool(nil, dnsclient.Options{})
	return resource.NewRegistry(
		file.New(p),
		mailbox.New(p),
		postfix.NewMap(p),
		postfix.NewConfig(p),
		postfix.NewQueue(p),
		service.New(p),
		service.NewWindow(p),
		command.New(p),
		dns.NewRecord(dc),
		dns.NewMX(dc),
		smtpprobe.New(p, dc),
		dnscheck.New(),
	)
}
