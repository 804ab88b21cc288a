package dev.tokenmill.sample.constrain;

/** One constraint compiled for one vocabulary; shared by every sequence that uses it (thread-safe). */
public final class CompiledConstraint {
    private final Constraint constraint;
    private final Automaton automaton;

    CompiledConstraint(Constraint constraint, Automaton automaton) {
        this.constraint = constraint;
        this.automaton = automaton;
    }

    public Constraint constraint() { return constraint; }

    /** A fresh processor for one sequence; {@code endIds} are the tokens that end it (allowed only when complete). */
    public ConstraintProcessor newProcessor(int[] endIds) {
        return new ConstraintProcessor(automaton, endIds);
    }

    /** States discovered so far (each with its cached mask once used): for tests and diagnostics. */
    public int numStates() {
        return automaton.numStates();
    }
}
