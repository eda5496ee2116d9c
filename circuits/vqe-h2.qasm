// VQE for H2 (STO-3G, bond length 0.7414 A, Jordan-Wigner, 4 qubits).
// Hartree-Fock state |1100>, then the double excitation written as a Givens-style
// circuit in one symbol `theta` (lowest energy -1.1373 Ha near theta = 0.22), plus two
// single-excitation-like rotations `phi0`, `phi1` (zero at the optimum).
// Outputs are the 14 non-identity Pauli terms of the Hamiltonian; with coefficients
//   I: -0.09886397, Z0,Z1: 0.17119775, Z2,Z3: -0.22278593, Z0Z1: 0.16862219,
//   Z0Z2, Z1Z3: 0.12054482, Z0Z3, Z1Z2: 0.16586702, Z2Z3: 0.17434844,
//   X0X1Y2Y3, Y0Y1X2X3: -0.04532220, X0Y1Y2X3, Y0X1X2Y3: 0.04532220
// the energy is I + sum(c_k * <P_k>).
OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
input float[64] phi0;
input float[64] phi1;
qubit[4] q;
x q[0];
x q[1];
cx q[2], q[3];
cx q[0], q[2];
h q[3];
h q[0];
cx q[2], q[3];
cx q[0], q[1];
ry(theta/8) q[1];
ry(-theta/8) q[0];
cx q[0], q[3];
h q[3];
cx q[3], q[1];
ry(theta/8) q[1];
ry(-theta/8) q[0];
cx q[2], q[1];
cx q[2], q[0];
ry(-theta/8) q[1];
ry(theta/8) q[0];
cx q[3], q[1];
h q[3];
cx q[0], q[3];
ry(-theta/8) q[1];
ry(theta/8) q[0];
cx q[0], q[1];
cx q[2], q[0];
h q[0];
h q[3];
cx q[0], q[2];
cx q[2], q[3];
cry(phi0) q[0], q[2];
cry(phi1) q[1], q[3];
#pragma braket result expectation z(q[0])
#pragma braket result expectation z(q[1])
#pragma braket result expectation z(q[2])
#pragma braket result expectation z(q[3])
#pragma braket result expectation z(q[0]) @ z(q[1])
#pragma braket result expectation z(q[0]) @ z(q[2])
#pragma braket result expectation z(q[0]) @ z(q[3])
#pragma braket result expectation z(q[1]) @ z(q[2])
#pragma braket result expectation z(q[1]) @ z(q[3])
#pragma braket result expectation z(q[2]) @ z(q[3])
#pragma braket result expectation x(q[0]) @ x(q[1]) @ y(q[2]) @ y(q[3])
#pragma braket result expectation x(q[0]) @ y(q[1]) @ y(q[2]) @ x(q[3])
#pragma braket result expectation y(q[0]) @ x(q[1]) @ x(q[2]) @ y(q[3])
#pragma braket result expectation y(q[0]) @ y(q[1]) @ x(q[2]) @ x(q[3])
