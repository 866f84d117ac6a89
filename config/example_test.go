package config_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/graph-network-harness/harness/config"
)

// ExampleLoad loads a small stack, prints the order its services start in (dependencies
// first, file order breaking ties) and renders a service reference as the api container sees
// it before anything runs.
func ExampleLoad() {
	dir, err := os.MkdirTemp("", "shop")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "services.yaml")
	err = os.WriteFile(path, []byte(`version: "1.0"
name: shop
services:
  web:
    type: docker
    image: shop/web
    depends_on: [api]
  api:
    type: docker
    image: shop/api:${TAG:-latest}
    command: ["serve", "--db", "postgres://${db.addr}/shop"]
  db:
    type: docker
    image: postgres:16
    ports: ["5433:5432"]
    health_check: {command: pg_isready}
`), 0o644)
	if err != nil {
		log.Fatal(err)
	}

	stack, err := config.Load(path, config.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		log.Fatal(err)
	}
	order, err := stack.Graph().Order()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("start order:", order)

	api := stack.Service("api")
	fmt.Println("api image:", api.Image)
	for _, dep := range api.Dependencies {
		fmt.Printf("api depends on %s (%s, implied: %t)\n", dep.Service, dep.Condition, dep.Implicit)
	}
	arg, err := api.Command[2].Render(stack.StaticResolver(api))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("api --db", arg)
	// Output:
	// start order: [db api web]
	// api image: shop/api:latest
	// api depends on db (started, implied: true)
	// api --db postgres://db:5432/shop
}
