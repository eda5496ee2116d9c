// VQE for H2 (STO-3G, bond length 0.7414 A, Jordan-Wigner, 4 qubits): the circuit of vqe-h2,
// with the energy as one output. Hartree-Fock state |1100>, then the double excitation written
// as a Givens-style circuit in one symbol `theta` (lowest energy -1.1373 Ha near theta = 0.22),
// plus two single-excitation-like rotations `phi0`, `phi1` (zero at the optimum).
// The output is the Hamiltonian: its 14 Pauli terms with their coefficients and the constant.
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
#pragma qshift expectation -0.09886397 + 0.17119775 * z(q[0]) + 0.17119775 * z(q[1]) - 0.22278593 * z(q[2]) - 0.22278593 * z(q[3]) + 0.16862219 * z(q[0]) @ z(q[1]) + 0.12054482 * z(q[0]) @ z(q[2]) + 0.16586702 * z(q[0]) @ z(q[3]) + 0.16586702 * z(q[1]) @ z(q[2]) + 0.12054482 * z(q[1]) @ z(q[3]) + 0.17434844 * z(q[2]) @ z(q[3]) - 0.0453222 * x(q[0]) @ x(q[1]) @ y(q[2]) @ y(q[3]) + 0.0453222 * x(q[0]) @ y(q[1]) @ y(q[2]) @ x(q[3]) + 0.0453222 * y(q[0]) @ x(q[1]) @ x(q[2]) @ y(q[3]) - 0.0453222 * y(q[0]) @ y(q[1]) @ x(q[2]) @ x(q[3])
