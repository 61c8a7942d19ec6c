package org.sparseft.jobs;

import org.apache.spark.SparkException;
import org.junit.jupiter.api.Test;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.RuntimeFailure;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The one line and exit code of a failure, for settings errors named by key in the libraries. */
class MainMessageTest {
    @Test
    void aSettingIsNamedAsItsFlag() {
        RuntimeException e = new RuntimeException("wrapped", InvalidSettingException.of("pattern", "4:4",
                "expected N:M with 1 <= N < M"));
        assertEquals("--pattern 4:4: expected N:M with 1 <= N < M", Main.message(e));
        assertEquals(Main.BAD_INPUT, Main.exitCode(e));
    }

    @Test
    void aSettingErrorInASparkTaskIsBadInputToo() {
        // a task's exception reaches the driver as text in the job's message, already rendered by key
        SparkException job = new SparkException("Job aborted due to stage failure: Task 0 in stage 1.0 failed 1 times,"
                + " most recent failure: Lost task 0.0 (TID 1) (driver): org.sparseft.InvalidSettingException:"
                + " pattern 2:4: tensor 'w' has 6 inputs per row, not a multiple of 4\n\tat org.sparseft.X.y(X.java:1)");
        assertEquals(Main.BAD_INPUT, Main.exitCode(job));
        assertEquals("pattern 2:4: tensor 'w' has 6 inputs per row, not a multiple of 4", Main.message(job));
        SparkException plain = new SparkException("Job aborted due to stage failure: Lost task 0.0:"
                + " org.sparseft.BadInputException: data.txt: no text found\n\tat org.sparseft.X.y(X.java:1)");
        assertEquals(Main.BAD_INPUT, Main.exitCode(plain));
        assertEquals("data.txt: no text found", Main.message(plain));
    }

    @Test
    void otherFailuresAreAsBefore() {
        assertEquals("a.txt: no such file", Main.message(new BadInputException("a.txt: no such file")));
        assertEquals(Main.RUNTIME_FAILURE, Main.exitCode(new RuntimeFailure("disk full")));
        assertEquals("disk full", Main.message(new RuntimeFailure("disk full")));
    }
}
