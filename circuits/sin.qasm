// The one-qubit "sin" circuit: RY(theta) on |0>, then <X> = sin(theta).
// Every derivative is +-sin or +-cos, which makes it the reference for any order.
OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[1] q;
ry(theta) q[0];
#pragma braket result expectation x(q[0])
