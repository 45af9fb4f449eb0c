"""The trusted judge: student code in a sandbox, hidden tests in the grader's own process.

``codec``        what may cross the boundary (data only) and its limits
``sandbox``      the bubblewrap sandbox and its resource limits
``agent``        the code inside the student's kernel that answers the grader
``kernel``       a sandboxed kernel driven over the Jupyter protocol (timeouts, death)
``proxy``        student functions, objects and values as the tests see them
``judge``        one notebook: which cell runs where, restarts after a crash
``preprocessor`` the judge as an nbgrader preprocessor, in place of nbgrader's Execute
"""
