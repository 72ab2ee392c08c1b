"""Reformat a batch of generated Python modules with black, one after another.

The program generates 10 Python modules of 14 functions (~190 lines) each,
written the way hurried code looks (odd spacing, long argument lists on one
line, single quotes, crammed dicts and lambdas), and formats each one with
``black.format_str``, keeping the size and a CRC of the result.  The jobs run
in a plain ``for`` loop.

Right model: multiprocessing.  black on PyPI is compiled with mypyc: its
modules are C extensions, so a Python profiler sees native code, but that
code manipulates Python objects all the time and never releases the GIL
(cpu_gil).  Threads take turns; two processes format two modules at once (the
source text in, the formatted text's size and CRC out).

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 2.12 s; threads (2
workers) 2.87 s = 0.74x; processes (2 workers) 1.17 s = 1.8x.
"""

import time
import zlib

import black

N_MODULES = 10
FUNCTIONS_PER_MODULE = 14


def messy_function(module, n):
    """One function's source, formatted badly on purpose."""
    k = module * 1000 + n
    return f"""
def handler_{n}( request,session ,retries = {k % 5},timeout= {k % 30}.5,*args,**kwargs ) :
    config={{'name':'svc_{k}','limits':{{ 'cpu' :{k % 8},'mem':'{k % 512}Mi' }},'tags':['a{k}','b{k}', 'c{k}' ]}}
    values = [ x*{k % 7}+y for x in range( {k % 50} ) for y in ( 1,2,3 ) if ( x+y )%{1 + k % 4}==0 ]
    if request.method=='POST' and session is not None and session.user.is_authenticated and not session.expired and retries>0:
        result=process_payload( request.body ,config , values,timeout=timeout,retries=retries-1,callback=lambda r :r.status==200 )
    else :
        result = {{ 'status':'skipped' ,'reason' :"no session for request %s" % request.id, 'code':{400 + k % 100} }}
    try :
        session.commit( ) ; log( 'handled {k}' ,result )
    except(ValueError,KeyError) as error :
        log( 'failed',error,level = 'warning' ); raise
    return  result
"""


def make_module(module):
    header = f"import os,sys\nimport json\nfrom collections import defaultdict,OrderedDict\nMODULE_ID={module}\n"
    return header + "".join(messy_function(module, n) for n in range(FUNCTIONS_PER_MODULE))


def format_module(module):
    """One job: (module, formatted bytes, crc32 of the formatted source)."""
    formatted = black.format_str(make_module(module), mode=black.Mode(line_length=100))
    data = formatted.encode()
    return module, len(data), zlib.crc32(data)


def summarize(results):
    crc = 0
    for r in results:
        crc = zlib.crc32(r[2].to_bytes(4, "little"), crc)
    return f"{len(results)} modules, {sum(r[1] for r in results)} formatted bytes, crc {crc:08x}"


def main():
    start = time.perf_counter()
    results = [format_module(module) for module in range(N_MODULES)]
    elapsed = time.perf_counter() - start
    print(f"black_format: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
