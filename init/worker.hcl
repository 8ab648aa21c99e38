# lbd worker, run by lbd@worker.service. The unit sets node (HOST-worker).
# Its gossip port differs from the master's 7946 so that both run on one
# host. Every key: lbd -h and lbd.hcl.example.
role = "worker"
bind = "0.0.0.0:7956"

# Gossip address of the master or any other node of the cluster.
join = ["127.0.0.1:7946"]

worker {
  population = 4
  builtins   = ["echo"]

  # handler "resize" {
  #   command = ["/usr/local/bin/resize", "--quality", "85"]
  # }
}
