"""The impairment proxy: stdlib only, run as a container from socklab/base that takes the alias ``server``
and forwards every connection to the real server, impairing the bytes on the way (Toxiproxy's toxics)."""
