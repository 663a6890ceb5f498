// hello is the blog's program: it runs as PID 1 and greets once a second, forever.
package main

import (
	"fmt"
	"time"
)

func main() {
	for {
		fmt.Println("Hello from Golang")
		time.Sleep(1 * time.Second)
	}
}
