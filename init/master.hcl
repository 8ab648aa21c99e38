# lbd master, run by lbd@master.service. The unit sets node (HOST-master)
# and data_dir (/var/lib/lbd/master). Every key: lbd -h and lbd.hcl.example.
role = "master"

# Gossip, TCP and UDP, between all nodes.
bind = "0.0.0.0:7946"

# Task connections from the workers.
task_addr = "0.0.0.0:7947"

# HTTP API; set 0.0.0.0:7948 to serve other hosts.
http_addr = "127.0.0.1:7948"
