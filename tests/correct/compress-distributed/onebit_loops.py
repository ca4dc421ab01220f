"""1-bit quantization in plain Python loops, bits as 0/1 integers (C2.2)."""
# effdl-sample: replaces=onebit_compress,onebit_decompress


def onebit_compress(g):
    flat = [float(x) for x in __import__("numpy").asarray(g).reshape(-1)]
    bits = [1 if x >= 0 else 0 for x in flat]
    pos = [x for x in flat if x >= 0]
    neg = [x for x in flat if x < 0]
    return bits, (sum(pos) / len(pos) if pos else 0.0), (sum(neg) / len(neg) if neg else 0.0)


def onebit_decompress(bits, pos_mean, neg_mean):
    return [pos_mean if b else neg_mean for b in list(bits)]
