#!/usr/bin/env python3
"""The demo model's linear products of one training pass, timed alone in PyTorch (deploy/tools/LinearGemms.java times
them in sparseft). A checking tool; PyTorch is never a dependency of sparseft."""
import torch, time
torch.set_num_threads(2)
M=1024; lin=[(256,256),(128,256),(128,256),(256,256),(688,256),(688,256),(256,688)]
for rnd in range(2):
    total=0; per=[]
    for out,inn in lin:
        x=torch.rand(M,inn); w=torch.rand(out,inn); dy=torch.rand(M,out); dW=torch.zeros(out,inn)
        def r():
            y=x@w.t(); dW.addmm_(dy.t(),x); dx=dy@w
        for _ in range(5): r()
        t=time.perf_counter()
        for _ in range(20): r()
        ms=(time.perf_counter()-t)*1000/20; total+=4*ms; per.append(f"{out}x{inn}:{ms:.2f}")
    print(f"torch: linears of a demo pass {total:.1f} ms ({' '.join(per)})")
