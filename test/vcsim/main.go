// Command vcsim is Kiln's vCenter simulator for tests: govmomi's simulator package (Debian's
// golang-github-vmware-govmomi-dev 0.24.2) with an inventory sized by flags, VLAN-tagged
// portgroups, and the vim25 methods 0.24.2 lacks (see methods.go). It is a test peer, never
// product code. Build and run it through vcsim.sh, which caches the binary.
package main

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/simulator"
)

// info is what a test needs to reach this instance; vcsim.sh points tests at the file.
type info struct {
	URL        string `json:"url"`
	Host       string `json:"host"`
	Port       int    `json:"port"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	Thumbprint string `json:"thumbprint"`
	CertPath   string `json:"certPath"`
	PID        int    `json:"pid"`
	Inventory  sizes  `json:"inventory"`
}

type sizes struct {
	Datacenters      int   `json:"datacenters"`
	Clusters         int   `json:"clustersPerDatacenter"`
	ClusterHosts     int   `json:"hostsPerCluster"`
	StandaloneHosts  int   `json:"standaloneHostsPerDatacenter"`
	VMs              int   `json:"vmsPerPool"`
	Datastores       int   `json:"datastores"`
	StandardVlans    []int `json:"standardPortgroupVlans"`
	DistributedVlans []int `json:"distributedPortgroupVlans"`
}

func main() {
	listen := flag.String("l", "127.0.0.1:0", "listen address (port 0 picks a free one)")
	infoPath := flag.String("info", "", "write the connection JSON here once serving")
	username := flag.String("username", "kiln", "the only accepted login user")
	password := flag.String("password", "", "the only accepted password (empty: a random one)")
	certPath := flag.String("tlscert", "", "PEM certificate; generated (with -tlskey) if the file is missing")
	keyPath := flag.String("tlskey", "", "PEM key for -tlscert")
	var sz sizes
	flag.IntVar(&sz.Datacenters, "dc", 1, "datacenters")
	flag.IntVar(&sz.Clusters, "cluster", 2, "clusters per datacenter")
	flag.IntVar(&sz.ClusterHosts, "host", 2, "hosts per cluster")
	flag.IntVar(&sz.StandaloneHosts, "standalone-host", 1, "standalone hosts per datacenter")
	flag.IntVar(&sz.VMs, "vm", 2, "VMs per resource pool and per standalone host")
	flag.IntVar(&sz.Datastores, "ds", 1, "datastores (each mounted on every host)")
	stdPg := flag.Int("pg-std", 2, "standard portgroups on vSwitch0 of every host, VLAN 101, 102, …")
	dvPg := flag.Int("pg-dv", 2, "distributed portgroups on each datacenter's DVS, VLAN 201, 202, …")
	pvlanPg := flag.String("pg-pvlan", "", "PRIMARY:SECONDARY,… : private VLANs on each DVS, each with a portgroup DVPG-PVLAN<primary>-<secondary> (isolated)")
	autostart := flag.Bool("autostart", true, "power on the generated VMs")
	taskTime := flag.Duration("task-time", 300*time.Millisecond, "how long the tasks this main runs (MigrateVM_Task) take, reporting progress")
	shutdownTime := flag.Duration("shutdown-time", 200*time.Millisecond, "how long a guest takes to power off after ShutdownGuest")
	pageSize := flag.Int("page-size", 100, "most objects in one RetrievePropertiesEx page (vCenter pages large results)")
	tickets := flag.Bool("tickets", true, "answer AcquireTicket / AcquireMksTicket (false: MethodNotFound, a server without console tickets)")
	idle := flag.Duration("session-idle", 0, "expire sessions idle this long (0: never)")
	methodDelay := flag.String("method-delay", "", "METHOD=MS,… : the simulator answers these vim25 methods that much later (CloneVM_Task=3000: a kill of the client while the clone is asked for)")
	flag.Parse()

	if *password == "" {
		*password = randomHex(12)
	}
	for i := 1; i <= *stdPg; i++ {
		sz.StandardVlans = append(sz.StandardVlans, 100+i)
	}
	for i := 1; i <= *dvPg; i++ {
		sz.DistributedVlans = append(sz.DistributedVlans, 200+i)
	}

	cert, err := loadOrCreateCert(*certPath, *keyPath)
	if err != nil {
		log.Fatalf("tls: %v", err)
	}

	simulator.SessionIdleTimeout = *idle
	model := simulator.VPX()
	model.Autostart = *autostart
	model.Datacenter = sz.Datacenters
	model.Cluster = sz.Clusters
	model.ClusterHost = sz.ClusterHosts
	model.Host = sz.StandaloneHosts
	model.Machine = sz.VMs
	model.Datastore = sz.Datastores
	model.Portgroup = 1 // the DVS itself, with one VLAN-0 portgroup the generated VMs use
	if *methodDelay != "" {
		model.DelayConfig.MethodDelay = map[string]int{}
		for _, pair := range strings.Split(*methodDelay, ",") {
			name, ms, ok := strings.Cut(pair, "=")
			n, err := strconv.Atoi(ms)
			if !ok || err != nil {
				log.Fatalf("-method-delay: %q is not METHOD=MS", pair)
			}
			model.DelayConfig.MethodDelay[name] = n
		}
	}
	if err := model.Create(); err != nil {
		log.Fatalf("model: %v", err)
	}

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	model.Service.TLS = tlsConfig(cert)
	server := newServer(model.Service, methodOptions{taskTime: *taskTime, shutdownTime: *shutdownTime, pageSize: *pageSize, tickets: *tickets, sslThumbprint: colonHex(sha1Of(cert.Certificate[0]))})
	serveCounters(model.Service)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	client, err := govmomi.NewClient(ctx, server.URL, true) // our own server, just started
	if err != nil {
		log.Fatalf("fixture client: %v", err)
	}
	if err := addVlanPortgroups(ctx, client.Client, sz.StandardVlans, sz.DistributedVlans); err != nil {
		log.Fatalf("portgroups: %v", err)
	}
	var pvlans [][2]int
	for _, pair := range strings.FieldsFunc(*pvlanPg, func(r rune) bool { return r == ',' }) {
		var p, q int
		if _, err := fmt.Sscanf(pair, "%d:%d", &p, &q); err != nil || p < 1 || p > 4094 || q < 1 || q > 4094 || p == q {
			log.Fatalf("-pg-pvlan: %q is not PRIMARY:SECONDARY", pair)
		}
		pvlans = append(pvlans, [2]int{p, q})
	}
	if err := addPvlanPortgroups(ctx, client.Client, pvlans); err != nil {
		log.Fatalf("private VLAN portgroups: %v", err)
	}
	_ = client.Logout(ctx)
	cancel()

	host, portText, _ := net.SplitHostPort(server.URL.Host)
	port, _ := strconv.Atoi(portText)
	sum := sha256.Sum256(cert.Certificate[0])
	out := info{
		URL:        fmt.Sprintf("https://%s/sdk", server.URL.Host),
		Host:       host,
		Port:       port,
		Username:   *username,
		Password:   *password,
		Thumbprint: colonHex(sum[:]),
		CertPath:   *certPath,
		PID:        os.Getpid(),
		Inventory:  sz,
	}
	if err := writeInfo(*infoPath, out); err != nil {
		log.Fatalf("info: %v", err)
	}
	fmt.Printf("vcsim ready at %s\n", out.URL)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	// Exit without draining connections (a client's WaitForUpdatesEx would hold it up), but
	// remove the datastores, which are temp dirs.
	server.CloseClientConnections()
	model.Remove()
}

// writeInfo writes atomically, so a reader polling for the file never sees half of it.
func writeInfo(path string, v info) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil || path == "" {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func sha1Of(der []byte) []byte {
	sum := sha1.Sum(der) // what vCenter puts in tickets' sslThumbprint
	return sum[:]
}

// colonHex spells a digest as vCenter shows thumbprints: AB:CD:….
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}
