/* This is a generated file, edit the .stub.php file instead.
 * Stub hash: 39c5fc93d027a0f30764fc447899aba9eae0bef4 */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_broadcast, 0, 2, IS_VOID, 0)
	ZEND_ARG_TYPE_INFO(0, channel, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, message, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_broadcastToUser, 0, 2, IS_VOID, 0)
	ZEND_ARG_TYPE_MASK(0, userId, MAY_BE_LONG|MAY_BE_STRING, NULL)
	ZEND_ARG_TYPE_INFO(0, message, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_getChannelUsers, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, channel, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_disconnectUser, 0, 1, IS_VOID, 0)
	ZEND_ARG_TYPE_MASK(0, userId, MAY_BE_LONG|MAY_BE_STRING, NULL)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_INFO_EX(arginfo_class_PyBroadcast_Server___construct, 0, 0, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, options, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_PyBroadcast_Server_onAuthenticate, 0, 1, IS_STATIC, 0)
	ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_PyBroadcast_Server_onAuthorize arginfo_class_PyBroadcast_Server_onAuthenticate

#define arginfo_class_PyBroadcast_Server_onJoin arginfo_class_PyBroadcast_Server_onAuthenticate

#define arginfo_class_PyBroadcast_Server_onLeave arginfo_class_PyBroadcast_Server_onAuthenticate

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_PyBroadcast_Server_run, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()


ZEND_FUNCTION(broadcast);
ZEND_FUNCTION(broadcastToUser);
ZEND_FUNCTION(getChannelUsers);
ZEND_FUNCTION(disconnectUser);
ZEND_METHOD(PyBroadcast_Server, __construct);
ZEND_METHOD(PyBroadcast_Server, onAuthenticate);
ZEND_METHOD(PyBroadcast_Server, onAuthorize);
ZEND_METHOD(PyBroadcast_Server, onJoin);
ZEND_METHOD(PyBroadcast_Server, onLeave);
ZEND_METHOD(PyBroadcast_Server, run);


static const zend_function_entry ext_functions[] = {
	ZEND_FE(broadcast, arginfo_broadcast)
	ZEND_FE(broadcastToUser, arginfo_broadcastToUser)
	ZEND_FE(getChannelUsers, arginfo_getChannelUsers)
	ZEND_FE(disconnectUser, arginfo_disconnectUser)
	ZEND_FE_END
};


static const zend_function_entry class_PyBroadcast_Exception_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_PyBroadcast_Server_methods[] = {
	ZEND_ME(PyBroadcast_Server, __construct, arginfo_class_PyBroadcast_Server___construct, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onAuthenticate, arginfo_class_PyBroadcast_Server_onAuthenticate, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onAuthorize, arginfo_class_PyBroadcast_Server_onAuthorize, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onJoin, arginfo_class_PyBroadcast_Server_onJoin, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onLeave, arginfo_class_PyBroadcast_Server_onLeave, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, run, arginfo_class_PyBroadcast_Server_run, ZEND_ACC_PUBLIC)
	ZEND_FE_END
};

static zend_class_entry *register_class_PyBroadcast_Exception(zend_class_entry *class_entry_RuntimeException)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "PyBroadcast", "Exception", class_PyBroadcast_Exception_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_RuntimeException);

	return class_entry;
}

static zend_class_entry *register_class_PyBroadcast_Server(void)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "PyBroadcast", "Server", class_PyBroadcast_Server_methods);
	class_entry = zend_register_internal_class_ex(&ce, NULL);
	class_entry->ce_flags |= ZEND_ACC_FINAL;

	return class_entry;
}
