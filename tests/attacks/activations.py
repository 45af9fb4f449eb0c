"""Submissions that try to get points without the work, or to harm the grader, on the
activations assignment. Each replaces some solution cells (by ``grade_id``) and names the
test cells it must lose; every other test cell keeps its points (the rest of the notebook is
the model solution). The markers ``{course}``, ``{repo}``, ``{victim}`` and ``{port}`` are replaced by
the test with the paths and the port of the batch being graded.
"""

from __future__ import annotations

from submission_cases import Wrong as Attack

ALL = {"test_log_sigmoid", "test_log_sigmoid_grad", "test_swish", "test_swish_backward",
       "test_layer_gradient_norms", "test_dead_unit_fraction"}

WRONG_LOG_SIGMOID = "def log_sigmoid(x):\n    return np.zeros_like(x)\n"

ATTACKS = [
    # ---- IPython hooks
    Attack("an input transformer that blanks every later cell (the release, answered by nothing)",
           {"log_sigmoid": "get_ipython().input_transformers_post.append(lambda lines: [])\n"
                           + WRONG_LOG_SIGMOID},
           ALL),
    Attack("a custom exception handler that swallows every error",
           {"log_sigmoid": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                           "def log_sigmoid(x):\n    raise NotImplementedError()\n"},
           "test_log_sigmoid"),
    Attack("a post-execute hook that publishes fake judge answers",
           {"log_sigmoid": WRONG_LOG_SIGMOID + (
               "import json\nfrom IPython.display import publish_display_data\n"
               "def _forge(*a, **k):\n"
               "    publish_display_data({'application/vnd.course-judge+json': json.dumps({'id': None, 'ok': True})})\n"
               "get_ipython().events.register('post_execute', _forge)\n")},
           "test_log_sigmoid"),
    Attack("the judge's agent object replaced in the namespace",
           {"log_sigmoid": WRONG_LOG_SIGMOID + "__course_judge__ = None\n"},
           "test_log_sigmoid"),
    Attack("the judge's message handler replaced by one that answers garbage",
           {"log_sigmoid": WRONG_LOG_SIGMOID + (
               "def _garbage(stream, idents, msg):\n"
               "    k = get_ipython().kernel\n"
               "    k.session.send(stream, 'course_judge_reply', {'id': msg['content'].get('id'),\n"
               "        'ok': {'result': {'__ndarray__': {'dtype': '|O', 'shape': [1], 'data': ''}}}},\n"
               "        parent=msg, ident=idents)\n"
               "get_ipython().kernel.shell_handlers['course_judge_request'] = _garbage\n")},
           ALL),
    # ---- patching numpy, builtins and the course's checks
    Attack("numpy's comparisons patched to always agree",
           {"log_sigmoid": WRONG_LOG_SIGMOID + (
               "np.isclose = lambda *a, **k: np.ones(np.broadcast(*a[:2]).shape, bool)\n"
               "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n")},
           "test_log_sigmoid"),
    Attack("builtins patched (isinstance, AssertionError)",
           {"log_sigmoid": WRONG_LOG_SIGMOID + (
               "import builtins\nbuiltins.isinstance = lambda *a: True\n"
               "builtins.AssertionError = type('Quiet', (Exception,), {})\n")},
           "test_log_sigmoid"),
    Attack("the course's check helpers patched and shadowed",
           {"log_sigmoid": WRONG_LOG_SIGMOID + (
               "import coursekit.checks\n"
               "coursekit.checks.check_array = lambda *a, **k: None\n"
               "check_array = lambda *a, **k: None\ncheck_scalar = lambda *a, **k: None\n")},
           "test_log_sigmoid"),
    # ---- lying array subclasses
    Attack("an ndarray subclass whose comparisons lie (__eq__, __array_ufunc__, __array_function__)",
           {"log_sigmoid": (
               "class _Liar(np.ndarray):\n"
               "    def __eq__(self, other): return np.ones(self.shape, bool)\n"
               "    def __array_ufunc__(self, ufunc, method, *args, **kw): return np.ones(self.shape, bool)\n"
               "    def __array_function__(self, func, types, args, kwargs): return True\n"
               "def log_sigmoid(x):\n"
               "    return np.zeros(np.shape(x), np.asarray(x).dtype).view(_Liar)\n")},
           "test_log_sigmoid"),
    Attack("a result object that runs code when the grader touches it",
           {"log_sigmoid": (
               "class _Trap:\n"
               "    def __reduce__(self): return (print, ('pwned',))\n"
               "    def __array__(self, *a, **k): return np.zeros(3)\n"
               "    def __eq__(self, other): return True\n"
               "def log_sigmoid(x):\n    return _Trap()\n")},
           "test_log_sigmoid"),
    # ---- exhausting the trusted side
    Attack("a huge result (800 MB)",
           {"log_sigmoid": "def log_sigmoid(x):\n    return np.zeros(10**8)\n"},
           "test_log_sigmoid"),
    Attack("a deeply nested result",
           {"log_sigmoid": "def log_sigmoid(x):\n    r = []\n    for _ in range(100000):\n        r = [r]\n    return r\n"},
           "test_log_sigmoid"),
    # ---- reading what the student must not see
    Attack("exec'ing the model solution from the instructor's source notebook",
           {"log_sigmoid": (
               "import json, glob\n"
               "_paths = glob.glob('{repo}/solutions/*/*.ipynb') + glob.glob('{course}/source/*/*.ipynb')\n"
               "for _p in _paths:\n"
               "    for _c in json.load(open(_p))['cells']:\n"
               "        if 'def log_sigmoid' in ''.join(_c['source']):\n"
               "            exec(''.join(_c['source']))\n"
               "if not _paths:\n"
               "    def log_sigmoid(x):\n        raise FileNotFoundError('no instructor files visible')\n")},
           "test_log_sigmoid"),
    Attack("importing the grader and the reference implementation",
           {"log_sigmoid": (
               "def log_sigmoid(x):\n"
               "    from nn_reference.activations import log_sigmoid as ref\n"
               "    return ref(x)\n")},
           "test_log_sigmoid"),
    Attack("calling PyTorch",
           {"log_sigmoid": "def log_sigmoid(x):\n    import torch\n"
                           "    return torch.nn.functional.logsigmoid(torch.tensor(x)).numpy()\n"},
           "test_log_sigmoid"),
    Attack("reading the gradebook and the other submissions",
           {"log_sigmoid": (
               "import os\n"
               "_seen = [p for p in ('{course}/gradebook.db', '{victim}') if os.path.exists(p)]\n"
               "def log_sigmoid(x):\n    raise RuntimeError(f'visible: {_seen}')\n")},
           "test_log_sigmoid"),
    # ---- writing to what must not change; poisoning later submissions
    Attack("overwriting another student's submission and the source notebook",
           {"log_sigmoid": (
               "for _p in ('{victim}', '{repo}/solutions/activations/activations.ipynb'):\n"
               "    try:\n        open(_p, 'w').write('{}')\n    except OSError:\n        pass\n"
               + WRONG_LOG_SIGMOID)},
           "test_log_sigmoid"),
    Attack("a startup file, a sitecustomize and a fake numpy for whoever is graded next",
           {"log_sigmoid": (
               "import os, sys, site\n"
               "for _d in [os.path.expanduser('~/.ipython/profile_default/startup'), os.getcwd(), '/tmp',\n"
               "           site.getusersitepackages()] + sys.path:\n"
               "    try:\n"
               "        os.makedirs(_d, exist_ok=True)\n"
               "        open(os.path.join(_d, '00-poison.py'), 'w').write('import os; os._exit(3)')\n"
               "        open(os.path.join(_d, 'sitecustomize.py'), 'w').write('import os; os._exit(3)')\n"
               "        open(os.path.join(_d, 'numpy.py'), 'w').write('raise SystemExit')\n"
               "    except OSError:\n"
               "        pass\n" + WRONG_LOG_SIGMOID)},
           "test_log_sigmoid"),
    # ---- the network
    Attack("sending the grader's secrets over the network",
           {"log_sigmoid": (
               "import socket\n"
               "def log_sigmoid(x):\n"
               "    with socket.create_connection(('127.0.0.1', {port}), timeout=2) as s:\n"
               "        s.sendall(b'leak')\n"
               "    return -np.logaddexp(0, -np.asarray(x))\n")},
           "test_log_sigmoid"),
    # ---- sniffing grading
    Attack("behaving differently when it sees that it is being graded",
           {"log_sigmoid": (
               "import os\n"
               "_grading = any(k.startswith(('NBGRADER', 'COURSE', 'PYTEST')) for k in os.environ)\n"
               "_grading |= any(w in open('/proc/1/environ', 'rb').read() for w in (b'NBGRADER', b'COURSE'))\n"
               "def log_sigmoid(x):\n"
               "    if not _grading:\n        raise RuntimeError('cannot tell that it is graded')\n"
               "    return -np.logaddexp(0, -np.asarray(x))\n")},
           "test_log_sigmoid"),
    # ---- crashes, limits, hangs and floods
    Attack("os._exit inside one function (only its part is lost)",
           {"dead_unit_fraction": "def dead_unit_fraction(x, weights, biases):\n    import os\n    os._exit(0)\n"},
           "test_dead_unit_fraction"),
    Attack("a segmentation fault inside one function",
           {"log_sigmoid_grad": "def log_sigmoid_grad(x):\n    import ctypes\n    return ctypes.string_at(0)\n"},
           "test_log_sigmoid_grad"),
    Attack("a memory bomb",
           {"log_sigmoid": "def log_sigmoid(x):\n    return bytearray(50 * 2**30)\n"},
           "test_log_sigmoid"),
    Attack("a fork bomb",
           {"log_sigmoid": "import os\ndef log_sigmoid(x):\n    while True:\n        os.fork()\n"},
           "test_log_sigmoid"),
    Attack("an infinite loop that ignores interrupts",
           {"log_sigmoid": ("import signal\n"
                            "def log_sigmoid(x):\n"
                            "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                            "    while True:\n        pass\n")},
           "test_log_sigmoid"),
    Attack("a long sleep",
           {"log_sigmoid_grad": "def log_sigmoid_grad(x):\n    import time\n    time.sleep(3600)\n"},
           "test_log_sigmoid_grad"),
    Attack("a flood of output",
           {"log_sigmoid": "def log_sigmoid(x):\n    while True:\n        print('x' * 10000)\n"},
           "test_log_sigmoid"),
    Attack("a file as large as the disk",
           {"log_sigmoid": ("def log_sigmoid(x):\n"
                            "    with open('big', 'wb') as f:\n"
                            "        while True:\n            f.write(b'0' * 2**20)\n")},
           "test_log_sigmoid"),
]
