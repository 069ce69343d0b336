#!/usr/bin/env python3
"""Where Redis' time goes in checkout.lua: 20,000 checkouts through one pipelined connection on a
redis-server of its own (port 6397), then INFO commandstats: the EVALSHA total and the commands
inside it. Usage: python3 bench/script_profile.py (needs `pip install redis`)."""
import redis, subprocess, time, os
subprocess.run(["redis-server","--port","6397","--daemonize","yes","--save",""],stdout=subprocess.DEVNULL)
time.sleep(0.3)
r=redis.Redis(port=6397)
P="vmreserve:{b}"
KEYS=[f"{P}:{k}" for k in "tokens user: users held: vm: vms status: ips pool leases events waiters waiting handoff: ipbits idle jobs".split()]
def load(n): return r.script_load(open("lua/_prelude.lua").read()+"\n"+open(f"lua/{n}.lua").read())
s={n:load(n) for n in ["init_pool","create_vms","checkout","checkin"]}
r.evalsha(s["init_pool"],len(KEYS),*KEYS,1000000,"","small=1:2048,medium=2:4096,large=4:8192")
N=20000
for start in range(0,N,1000):
    args=["p:admin",1000,"","","",""]
    for i in range(start,start+1004): args+=[f"vm-{i}",f"11.{i>>16&255}.{i>>8&255}.{i&255}"]
    r.evalsha(s["create_vms"],len(KEYS),*KEYS,*args)
r.config_resetstat()
p=r.pipeline(transaction=False)
for i in range(N): p.evalsha(s["checkout"],len(KEYS),*KEYS,f"p:u{i}",1000000,"","","604800","")
p.execute()
st=r.info("commandstats")
tot=sum(v["usec"] for v in st.values())
for k,v in sorted(st.items(), key=lambda kv:-kv[1]["usec"])[:14]:
    print(k, v["calls"], v["usec_per_call"], round(v["usec"]/N,2),"us per checkout")
subprocess.run(["redis-cli","-p","6397","shutdown","nosave"])
